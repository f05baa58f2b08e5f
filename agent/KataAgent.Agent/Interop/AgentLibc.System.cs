using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    public const int _SC_CLK_TCK = 2;
    public const int _SC_PAGESIZE = 30;

    [LibraryImport(Library, EntryPoint = "sysconf", SetLastError = true)]
    public static partial long Sysconf(int name);
}
