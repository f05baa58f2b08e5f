using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Interop;

/// <summary>
/// posix_spawn as the shim starts its children (the daemon from <c>start</c>, <c>binary://</c> loggers), because a
/// .NET process must never fork: stdin, stdout and stderr on <c>/dev/null</c>, the given fds at the given numbers and
/// every other fd closed, signal mask and dispositions reset, optionally in a session of its own and another
/// directory.
/// </summary>
internal static unsafe class ShimSpawn
{
    /// <summary>Spawns <paramref name="program"/>; returns its pid.</summary>
    /// <param name="program">The binary.</param>
    /// <param name="argv">Its arguments, argv[0] first.</param>
    /// <param name="environment">Its environment, <c>KEY=value</c>.</param>
    /// <param name="inherited">Our fd and the number (3 and up) the child finds it at; every fd above the highest is closed.</param>
    /// <param name="workingDirectory">The child's working directory; null for ours.</param>
    /// <param name="newSession">Whether the child leads a session of its own (setsid).</param>
    public static int Spawn(string program, IReadOnlyList<string> argv, IReadOnlyList<string> environment,
        IReadOnlyList<(int Source, int Target)> inherited, string? workingDirectory, bool newSession)
    {
        var allocations = new List<nint>();
        byte* actions = stackalloc byte[Libc.SpawnFileActionsSize];
        byte* attributes = stackalloc byte[Libc.SpawnAttrSize];
        byte* emptySet = stackalloc byte[Libc.SigSetSize];
        byte* fullSet = stackalloc byte[Libc.SigSetSize];
        Libc.PosixSpawnFileActionsInit(actions);
        Libc.PosixSpawnAttrInit(attributes);
        var copies = new List<int>();
        try
        {
            Check(Libc.PosixSpawnFileActionsAddOpen(actions, 0, "/dev/null", Libc.O_RDONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(Libc.PosixSpawnFileActionsAddOpen(actions, 1, "/dev/null", Libc.O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            Check(Libc.PosixSpawnFileActionsAddOpen(actions, 2, "/dev/null", Libc.O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null");
            int closeFrom = 3;
            foreach (var (source, target) in inherited)
            {
                // Copies above the range the file actions write: no dup2 or stdio open clobbers a source, and dup2
                // from a different fd always clears FD_CLOEXEC on the target, which dup2(3, 3) would not.
                int copy = ShimLibc.Check(Libc.Fcntl(source, Libc.F_DUPFD_CLOEXEC, 64), $"fcntl(F_DUPFD_CLOEXEC) of fd {source} for {program}");
                copies.Add(copy);
                Check(Libc.PosixSpawnFileActionsAddDup2(actions, copy, target), "posix_spawn_file_actions_adddup2");
                closeFrom = Math.Max(closeFrom, target + 1);
            }
            Check(Libc.PosixSpawnFileActionsAddCloseFrom(actions, closeFrom), "posix_spawn_file_actions_addclosefrom_np");
            if (workingDirectory is not null)
                Check(Libc.PosixSpawnFileActionsAddChdir(actions, workingDirectory), "posix_spawn_file_actions_addchdir_np");

            Libc.SigEmptySet(emptySet);
            Libc.SigFillSet(fullSet);
            Check(Libc.PosixSpawnAttrSetSigMask(attributes, emptySet), "posix_spawnattr_setsigmask");
            Check(Libc.PosixSpawnAttrSetSigDefault(attributes, fullSet), "posix_spawnattr_setsigdefault");
            short flags = Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF;
            if (newSession)
                flags |= Libc.POSIX_SPAWN_SETSID;
            Check(Libc.PosixSpawnAttrSetFlags(attributes, flags), "posix_spawnattr_setflags");

            byte* path = NativeStrings.Utf8(program, allocations);
            byte** nativeArgv = NativeStrings.Utf8Array(argv, allocations);
            byte** nativeEnvironment = NativeStrings.Utf8Array(environment, allocations);
            int pid;
            Check(Libc.PosixSpawn(&pid, path, actions, attributes, nativeArgv, nativeEnvironment), $"posix_spawn {program}");
            return pid;
        }
        finally
        {
            Libc.PosixSpawnFileActionsDestroy(actions);
            Libc.PosixSpawnAttrDestroy(attributes);
            foreach (int copy in copies)
                Libc.Close(copy);
            NativeStrings.Free(allocations);
        }
    }

    private static void Check(int error, string operation)
    {
        if (error != 0)
            throw new ShimInteropException(operation, error);
    }
}
