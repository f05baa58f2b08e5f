using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static unsafe partial class Libc
{
    public const int SIGKILL = 9;
    public const int SIGHUP = 1;
    public const int SIGTERM = 15;
    public const int SIGCHLD = 17;

    public const int P_ALL = 0;
    public const int P_PID = 1;
    public const int P_PIDFD = 3;
    public const int WNOHANG = 1;
    public const int WEXITED = 4;
    public const int WNOWAIT = 0x01000000;

    public const int CLD_EXITED = 1;
    public const int CLD_KILLED = 2;
    public const int CLD_DUMPED = 3;

    public const int PR_SET_PDEATHSIG = 1;
    public const int PR_SET_KEEPCAPS = 8;
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_SET_CHILD_SUBREAPER = 36;
    public const int PR_CAPBSET_DROP = 24;
    public const int PR_CAP_AMBIENT = 47;
    public const int PR_CAP_AMBIENT_RAISE = 2;
    public const int PR_CAP_AMBIENT_CLEAR_ALL = 4;

    /// <summary>siginfo_t as waitid fills it for SIGCHLD (128 bytes; the fields used are at fixed offsets).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct SigInfo
    {
        [FieldOffset(0)] public int Signo;
        [FieldOffset(4)] public int Errno;
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public int Status;
    }

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Library, EntryPoint = "waitid", SetLastError = true)]
    public static partial int WaitId(int idType, int id, SigInfo* info, int options);

    [LibraryImport(Library, EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(Library, EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport(Library, EntryPoint = "getpid")]
    public static partial int GetPid();

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, long a1, long a2, long a3, long a4, long a5);

    /// <summary>capset(2) through glibc's wrapper, whose number it knows for each architecture.</summary>
    [LibraryImport(Library, EntryPoint = "capset", SetLastError = true)]
    public static partial int Capset(void* header, void* data);

    /// <summary>capget(2) through glibc's wrapper.</summary>
    [LibraryImport(Library, EntryPoint = "capget", SetLastError = true)]
    public static partial int Capget(void* header, void* data);

    [LibraryImport(Library, EntryPoint = "execve", SetLastError = true)]
    public static partial int Execve(byte* path, byte** argv, byte** envp);

    [LibraryImport(Library, EntryPoint = "_exit")]
    public static partial void Exit(int status);

    [LibraryImport(Library, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Library, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport(Library, EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int fd, int newFd);

    [LibraryImport(Library, EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport(Library, EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "setresuid", SetLastError = true)]
    public static partial int SetResUid(uint ruid, uint euid, uint suid);

    [LibraryImport(Library, EntryPoint = "setresgid", SetLastError = true)]
    public static partial int SetResGid(uint rgid, uint egid, uint sgid);

    [LibraryImport(Library, EntryPoint = "setgroups", SetLastError = true)]
    public static partial int SetGroups(nuint size, uint* groups);

    [LibraryImport(Library, EntryPoint = "chdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chdir(string path);

    [LibraryImport(Library, EntryPoint = "chroot", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chroot(string path);

    [LibraryImport(Library, EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    [LibraryImport(Library, EntryPoint = "sethostname", SetLastError = true)]
    public static partial int SetHostName(byte* name, nuint length);

    [LibraryImport(Library, EntryPoint = "prlimit", SetLastError = true)]
    public static partial int PrLimit(int pid, int resource, ulong* newLimit, ulong* oldLimit);

    /// <summary>This architecture's number of pidfd_send_signal (<see cref="SyscallNumbers"/>).</summary>
    public static long SYS_pidfd_send_signal => SyscallNumbers.PidfdSendSignal;

    /// <summary>This architecture's number of pidfd_open (<see cref="SyscallNumbers"/>).</summary>
    public static long SYS_pidfd_open => SyscallNumbers.PidfdOpen;

    public const int SOCK_SEQPACKET = 5;
    public const uint MFD_CLOEXEC = 1;
    public const int TIOCSCTTY = 0x540E;

    /// <summary>A close-on-exec pipe: (read end, write end).</summary>
    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        Check(Pipe2(fds, O_CLOEXEC), "pipe2");
        return (fds[0], fds[1]);
    }

    /// <summary>pidfd_open(2): an fd that refers to the process, immune to pid reuse.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall(SyscallNumbers.PidfdOpen, pid, 0, 0, 0, 0);
}
