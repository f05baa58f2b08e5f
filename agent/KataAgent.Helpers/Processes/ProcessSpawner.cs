using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Processes;

/// <summary>
/// Starts a program with posix_spawn: chosen fds become the child's 0..n, every other fd is
/// closed in the child (closefrom), signal mask cleared and handlers reset. No managed code runs
/// in the child (glibc's spawn child is C), which is the only safe way to start processes from a
/// multi-threaded .NET process.
/// </summary>
public static unsafe class ProcessSpawner
{
    /// <summary>Spawns <paramref name="path"/>; <paramref name="fds"/>[i] becomes fd i in the child. Returns the pid.</summary>
    public static int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment, IReadOnlyList<int> fds) =>
        Spawn(path, argv, environment, fds, terminal: null);

    /// <summary>
    /// Spawns <paramref name="path"/> as the leader of a new session whose controlling terminal is
    /// <paramref name="terminal"/> (a pty slave), opened as its fds 0, 1 and 2. glibc's child calls
    /// setsid before the file actions, and a session leader without a controlling terminal that
    /// opens a terminal without O_NOCTTY acquires it: the TIOCSCTTY a shell needs for job control
    /// and ^C, with no managed code in the child. It starts in <paramref name="workingDirectory"/>.
    /// </summary>
    public static int SpawnOnTerminal(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment, string terminal, string workingDirectory = "/") =>
        Spawn(path, argv, environment, [], terminal, workingDirectory);

    private static int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment, IReadOnlyList<int> fds, string? terminal, string? workingDirectory = null)
    {
        var allocations = new List<nint>();
        var temporaries = new List<int>();
        byte* actions = stackalloc byte[Libc.SpawnFileActionsSize];
        byte* attributes = stackalloc byte[Libc.SpawnAttrSize];
        byte* emptySet = stackalloc byte[Libc.SigSetSize];
        byte* fullSet = stackalloc byte[Libc.SigSetSize];
        Libc.PosixSpawnFileActionsInit(actions);
        Libc.PosixSpawnAttrInit(attributes);
        try
        {
            // Move every source above the target range first, so a dup2 never clobbers a source
            // that a later dup2 still needs, and source != target always clears FD_CLOEXEC.
            for (int i = 0; i < fds.Count; i++)
            {
                int temporary = Libc.Fcntl(fds[i], Libc.F_DUPFD_CLOEXEC, 64);
                if (temporary < 0)
                {
                    throw LinuxException.FromLastError($"fcntl(F_DUPFD_CLOEXEC) of fd {fds[i]} for {path}");
                }
                temporaries.Add(temporary);
                Check(Libc.PosixSpawnFileActionsAddDup2(actions, temporary, i), "posix_spawn_file_actions_adddup2");
            }
            int inherited = fds.Count;
            if (terminal is not null)
            {
                Check(Libc.PosixSpawnFileActionsAddOpen(actions, 0, terminal, Libc.O_RDWR, 0), "posix_spawn_file_actions_addopen");
                Check(Libc.PosixSpawnFileActionsAddDup2(actions, 0, 1), "posix_spawn_file_actions_adddup2");
                Check(Libc.PosixSpawnFileActionsAddDup2(actions, 0, 2), "posix_spawn_file_actions_adddup2");
                inherited = 3;
            }
            Check(Libc.PosixSpawnFileActionsAddCloseFrom(actions, inherited), "posix_spawn_file_actions_addclosefrom_np");
            if (workingDirectory is not null)
            {
                Check(Libc.PosixSpawnFileActionsAddChdir(actions, workingDirectory), "posix_spawn_file_actions_addchdir_np");
            }

            Libc.SigEmptySet(emptySet);
            Libc.SigFillSet(fullSet);
            Check(Libc.PosixSpawnAttrSetSigMask(attributes, emptySet), "posix_spawnattr_setsigmask");
            Check(Libc.PosixSpawnAttrSetSigDefault(attributes, fullSet), "posix_spawnattr_setsigdefault");
            short flags = Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF;
            if (terminal is not null)
            {
                flags |= Libc.POSIX_SPAWN_SETSID;
            }
            Check(Libc.PosixSpawnAttrSetFlags(attributes, flags), "posix_spawnattr_setflags");

            byte* nativePath = NativeStrings.Utf8(path, allocations);
            byte** nativeArgv = NativeStrings.Utf8Array(argv, allocations);
            byte** nativeEnvironment = NativeStrings.Utf8Array(environment, allocations);
            int pid;
            int error = Libc.PosixSpawn(&pid, nativePath, actions, attributes, nativeArgv, nativeEnvironment);
            if (error != 0)
            {
                throw new LinuxException($"posix_spawn {path}", error);
            }
            return pid;
        }
        finally
        {
            Libc.PosixSpawnFileActionsDestroy(actions);
            Libc.PosixSpawnAttrDestroy(attributes);
            foreach (int fd in temporaries)
            {
                Libc.Close(fd);
            }
            NativeStrings.Free(allocations);
        }
    }

    private static void Check(int error, string operation)
    {
        if (error != 0)
        {
            throw new LinuxException(operation, error);
        }
    }
}
