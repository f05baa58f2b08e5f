using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    private const int PRIO_PROCESS = 0;
    private const int LowestNice = 19;

    [LibraryImport(Library, EntryPoint = "gettid")]
    private static partial int Gettid();

    [LibraryImport(Library, EntryPoint = "setpriority", SetLastError = true)]
    private static partial int Setpriority(int which, uint who, int priority);

    /// <summary>
    /// Gives the calling thread nice 19: on Linux PRIO_PROCESS with a thread id applies to that thread only. Best
    /// effort: a thread that keeps its priority still does its work.
    /// </summary>
    public static void LowerThreadPriority() => _ = Setpriority(PRIO_PROCESS, (uint)Gettid(), LowestNice);
}
