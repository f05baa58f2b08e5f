using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Shim.Interop;

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

    /// <summary>Spawns <paramref name="program"/> with <paramref name="argv"/>; returns its pid.</summary>
    public static int Spawn(string program, IReadOnlyList<string> argv, IReadOnlyList<string> environment, SafeSocketHandle listener, string workingDirectory)
    {
        var allocations = new List<nint>();
        byte* actions = stackalloc byte[ShimLibc.SpawnFileActionsSize];
        byte* attributes = stackalloc byte[ShimLibc.SpawnAttrSize];
        byte* emptySet = stackalloc byte[ShimLibc.SigSetSize];
        byte* fullSet = stackalloc byte[ShimLibc.SigSetSize];
        ShimLibc.PosixSpawnFileActionsInit(actions);
        ShimLibc.PosixSpawnAttrInit(attributes);
        int high = -1;
        bool referenced = false;
        try
        {
            listener.DangerousAddRef(ref referenced);
            // A copy above the range the file actions write: dup2 onto 3 from a different fd always clears
            // FD_CLOEXEC, which dup2(3, 3) would not, and the stdio opens cannot clobber the source.
            high = ShimLibc.Check(ShimLibc.Fcntl((int)listener.DangerousGetHandle(), ShimLibc.F_DUPFD_CLOEXEC, 64),
                "fcntl(F_DUPFD_CLOEXEC) of the shim socket");
            Check(ShimLibc.PosixSpawnFileActionsAddOpen(actions, 0, "/dev/null", ShimLibc.O_RDONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(ShimLibc.PosixSpawnFileActionsAddOpen(actions, 1, "/dev/null", ShimLibc.O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(ShimLibc.PosixSpawnFileActionsAddOpen(actions, 2, "/dev/null", ShimLibc.O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(ShimLibc.PosixSpawnFileActionsAddDup2(actions, high, ListenerFd), "posix_spawn_file_actions_adddup2");
            Check(ShimLibc.PosixSpawnFileActionsAddCloseFrom(actions, ListenerFd + 1), "posix_spawn_file_actions_addclosefrom_np");
            Check(ShimLibc.PosixSpawnFileActionsAddChdir(actions, workingDirectory), "posix_spawn_file_actions_addchdir_np");

            ShimLibc.SigEmptySet(emptySet);
            ShimLibc.SigFillSet(fullSet);
            Check(ShimLibc.PosixSpawnAttrSetSigMask(attributes, emptySet), "posix_spawnattr_setsigmask");
            Check(ShimLibc.PosixSpawnAttrSetSigDefault(attributes, fullSet), "posix_spawnattr_setsigdefault");
            Check(ShimLibc.PosixSpawnAttrSetFlags(attributes,
                ShimLibc.POSIX_SPAWN_SETSIGMASK | ShimLibc.POSIX_SPAWN_SETSIGDEF | ShimLibc.POSIX_SPAWN_SETSID), "posix_spawnattr_setflags");

            byte* path = Utf8(program, allocations);
            byte** nativeArgv = Utf8Array(argv, allocations);
            byte** nativeEnvironment = Utf8Array(environment, allocations);
            int pid;
            int error = ShimLibc.PosixSpawn(&pid, path, actions, attributes, nativeArgv, nativeEnvironment);
            if (error != 0)
                throw new ShimInteropException($"posix_spawn {program}", error);
            return pid;
        }
        finally
        {
            ShimLibc.PosixSpawnFileActionsDestroy(actions);
            ShimLibc.PosixSpawnAttrDestroy(attributes);
            if (high >= 0)
                ShimLibc.Close(high);
            if (referenced)
                listener.DangerousRelease();
            foreach (nint allocation in allocations)
                NativeMemory.Free((void*)allocation);
        }
    }

    private static void Check(int error, string operation)
    {
        if (error != 0)
            throw new ShimInteropException(operation, error);
    }

    private static byte* Utf8(string text, List<nint> allocations)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        byte* buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        allocations.Add((nint)buffer);
        Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return buffer;
    }

    private static byte** Utf8Array(IReadOnlyList<string> items, List<nint> allocations)
    {
        byte** array = (byte**)NativeMemory.Alloc((nuint)(items.Count + 1), (nuint)sizeof(nint));
        allocations.Add((nint)array);
        for (int i = 0; i < items.Count; i++)
            array[i] = Utf8(items[i], allocations);
        array[items.Count] = null;
        return array;
    }
}
