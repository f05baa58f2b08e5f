using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static partial class Libc
{
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;

    /// <summary>
    /// flock(2): the image content store's locks between processes sharing one store. Called directly rather than
    /// through FileShare, which .NET lets DOTNET_SYSTEM_IO_DISABLEFILELOCKING switch off silently.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);
}
