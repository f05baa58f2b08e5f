using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static unsafe partial class Libc
{
    public const int RB_POWER_OFF = 0x4321FEDC;
    public const int SYS_finit_module = 313;

    [LibraryImport(Library, EntryPoint = "reboot", SetLastError = true)]
    public static partial int Reboot(int command);

    [LibraryImport(Library, EntryPoint = "sync")]
    public static partial void Sync();

    /// <summary>finit_module(2) with no parameters.</summary>
    public static int FinitModule(int fd)
    {
        byte empty = 0;
        return (int)Syscall(SYS_finit_module, fd, (long)&empty, 0, 0, 0);
    }
}
