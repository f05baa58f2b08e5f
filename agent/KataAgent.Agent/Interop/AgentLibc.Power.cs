using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    public const int RB_POWER_OFF = 0x4321FEDC;

    [LibraryImport(Library, EntryPoint = "reboot", SetLastError = true)]
    public static partial int Reboot(int command);

    [LibraryImport(Library, EntryPoint = "sync")]
    public static partial void Sync();

    /// <summary>finit_module(2) with no parameters; glibc has no wrapper, so the number is this architecture's.</summary>
    public static int FinitModule(int fd)
    {
        byte empty = 0;
        return (int)Libc.Syscall(SyscallNumbers.FinitModule, fd, (long)&empty, 0, 0, 0);
    }
}
