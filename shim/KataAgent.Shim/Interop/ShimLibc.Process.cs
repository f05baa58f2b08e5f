using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

internal static unsafe partial class ShimLibc
{
    public const int PR_GET_CHILD_SUBREAPER = 37;

    [LibraryImport(Library, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport(Library, EntryPoint = "getegid")]
    public static partial uint GetEgid();
}
