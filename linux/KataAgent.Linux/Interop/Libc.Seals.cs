using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>Sealed memfds: a file no process can change once sealed (the agent runs its spawn-chain helper from one).</summary>
internal static unsafe partial class Libc
{
    public const uint MFD_ALLOW_SEALING = 0x2;

    /// <summary>Linux 6.3+: the memfd may be executed even where vm.memfd_noexec would refuse it; EINVAL before 6.3.</summary>
    public const uint MFD_EXEC = 0x10;

    public const int F_ADD_SEALS = 1033;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 0x1;
    public const int F_SEAL_SHRINK = 0x2;
    public const int F_SEAL_GROW = 0x4;
    public const int F_SEAL_WRITE = 0x8;

    [LibraryImport(Library, EntryPoint = "sendfile", SetLastError = true)]
    public static partial nint SendFile(int outFd, int inFd, long* offset, nuint count);
}
