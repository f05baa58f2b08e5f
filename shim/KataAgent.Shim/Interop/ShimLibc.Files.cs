using System.Runtime.InteropServices;

namespace KataAgent.Shim.Interop;

internal static unsafe partial class ShimLibc
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int ECHILD = 10;

    [LibraryImport(Library, EntryPoint = "isatty")]
    public static partial int IsATty(int fd);
}
