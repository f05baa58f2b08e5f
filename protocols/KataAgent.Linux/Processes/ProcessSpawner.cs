using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Linux.Processes;

/// <summary>
/// Starts a program with posix_spawn: chosen fds become the child's 0..n, every other fd is
/// closed in the child (closefrom), signal mask cleared and handlers reset. No managed code runs
/// in the child (glibc's spawn child is C), which is the only safe way to start processes from a
/// multi-threaded .NET process.
/// </summary>
public static unsafe class ProcessSpawner
{
    /// <summary>Spawns <paramref name="path"/>; <paramref name="fds"/>[i] becomes fd i in the child. Returns the pid.</summary>
    public static int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment, IReadOnlyList<int> fds)
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
            Check(Libc.PosixSpawnFileActionsAddCloseFrom(actions, fds.Count), "posix_spawn_file_actions_addclosefrom_np");

            Libc.SigEmptySet(emptySet);
            Libc.SigFillSet(fullSet);
            Check(Libc.PosixSpawnAttrSetSigMask(attributes, emptySet), "posix_spawnattr_setsigmask");
            Check(Libc.PosixSpawnAttrSetSigDefault(attributes, fullSet), "posix_spawnattr_setsigdefault");
            Check(Libc.PosixSpawnAttrSetFlags(attributes, Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF), "posix_spawnattr_setflags");

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
