using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport(Library, EntryPoint = "settimeofday", SetLastError = true)]
    public static partial int SetTimeOfDay(TimeVal* time, void* timezone);
}
