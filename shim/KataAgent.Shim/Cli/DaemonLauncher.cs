using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Cli;

/// <summary>
/// Starts the shim daemon from <c>start</c> as runc's and Kata's shims do: this binary again without an action
/// word, the listening socket as fd 3, stdin, stdout and stderr on <c>/dev/null</c> (containerd reads
/// <c>start</c>'s output with <c>CombinedOutput</c>, which waits until every copy of its pipe is closed: a daemon
/// holding one would hang containerd), every other fd closed, in a session of its own, in the bundle directory.
/// posix_spawn, because a .NET process must never fork.
/// </summary>
internal static unsafe class DaemonLauncher
{
    /// <summary>The fd the daemon finds its listener on (Go's <c>ExtraFiles[0]</c>).</summary>
    public const int ListenerFd = 3;

    /// <summary>The fd the daemon tells <c>start</c> it is ready on (when <see cref="ReadyFdVariable"/> names it).</summary>
    public const int ReadyFd = 4;

    /// <summary>The environment variable that tells the daemon <see cref="ReadyFd"/> is <c>start</c>'s pipe.</summary>
    public const string ReadyFdVariable = "KATAAGENT_SHIM_READY_FD";

    /// <summary>Spawns <paramref name="program"/> with <paramref name="argv"/>; returns its pid.</summary>
    /// <param name="program">The binary.</param>
    /// <param name="argv">Its arguments, argv[0] first.</param>
    /// <param name="environment">Its environment, <c>KEY=value</c>.</param>
    /// <param name="listener">The listening socket, the child's fd 3.</param>
    /// <param name="workingDirectory">The child's working directory.</param>
    /// <param name="ready">The write end of a pipe, the child's fd 4; -1 for none.</param>
    public static int Spawn(string program, IReadOnlyList<string> argv, IReadOnlyList<string> environment, SafeSocketHandle listener,
        string workingDirectory, int ready = -1)
    {
        var allocations = new List<nint>();
        byte* actions = stackalloc byte[Libc.SpawnFileActionsSize];
        byte* attributes = stackalloc byte[Libc.SpawnAttrSize];
        byte* emptySet = stackalloc byte[Libc.SigSetSize];
        byte* fullSet = stackalloc byte[Libc.SigSetSize];
        Libc.PosixSpawnFileActionsInit(actions);
        Libc.PosixSpawnAttrInit(attributes);
        int high = -1;
        int highReady = -1;
        bool referenced = false;
        try
        {
            listener.DangerousAddRef(ref referenced);
            // A copy above the range the file actions write: dup2 onto 3 from a different fd always clears
            // FD_CLOEXEC, which dup2(3, 3) would not, and the stdio opens cannot clobber the source.
            high = ShimLibc.Check(Libc.Fcntl((int)listener.DangerousGetHandle(), Libc.F_DUPFD_CLOEXEC, 64),
                "fcntl(F_DUPFD_CLOEXEC) of the shim socket");
            Check(Libc.PosixSpawnFileActionsAddOpen(actions, 0, "/dev/null", Libc.O_RDONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(Libc.PosixSpawnFileActionsAddOpen(actions, 1, "/dev/null", Libc.O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(Libc.PosixSpawnFileActionsAddOpen(actions, 2, "/dev/null", Libc.O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(Libc.PosixSpawnFileActionsAddDup2(actions, high, ListenerFd), "posix_spawn_file_actions_adddup2");
            int inherited = ListenerFd + 1;
            if (ready >= 0)
            {
                highReady = ShimLibc.Check(Libc.Fcntl(ready, Libc.F_DUPFD_CLOEXEC, 64), "fcntl(F_DUPFD_CLOEXEC) of the ready pipe");
                Check(Libc.PosixSpawnFileActionsAddDup2(actions, highReady, ReadyFd), "posix_spawn_file_actions_adddup2");
                inherited = ReadyFd + 1;
            }
            Check(Libc.PosixSpawnFileActionsAddCloseFrom(actions, inherited), "posix_spawn_file_actions_addclosefrom_np");
            Check(Libc.PosixSpawnFileActionsAddChdir(actions, workingDirectory), "posix_spawn_file_actions_addchdir_np");

            Libc.SigEmptySet(emptySet);
            Libc.SigFillSet(fullSet);
            Check(Libc.PosixSpawnAttrSetSigMask(attributes, emptySet), "posix_spawnattr_setsigmask");
            Check(Libc.PosixSpawnAttrSetSigDefault(attributes, fullSet), "posix_spawnattr_setsigdefault");
            Check(Libc.PosixSpawnAttrSetFlags(attributes,
                Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSID), "posix_spawnattr_setflags");

            byte* path = NativeStrings.Utf8(program, allocations);
            byte** nativeArgv = NativeStrings.Utf8Array(argv, allocations);
            byte** nativeEnvironment = NativeStrings.Utf8Array(environment, allocations);
            int pid;
            int error = Libc.PosixSpawn(&pid, path, actions, attributes, nativeArgv, nativeEnvironment);
            if (error != 0)
                throw new ShimInteropException($"posix_spawn {program}", error);
            return pid;
        }
        finally
        {
            Libc.PosixSpawnFileActionsDestroy(actions);
            Libc.PosixSpawnAttrDestroy(attributes);
            if (high >= 0)
                Libc.Close(high);
            if (highReady >= 0)
                Libc.Close(highReady);
            if (referenced)
                listener.DangerousRelease();
            NativeStrings.Free(allocations);
        }
    }

    private static void Check(int error, string operation)
    {
        if (error != 0)
            throw new ShimInteropException(operation, error);
    }
}
