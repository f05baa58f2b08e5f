using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>Device nodes, symlinks and pivot_root: what the guest init, storage and the container init make.</summary>
internal static unsafe partial class Libc
{
    [LibraryImport(Library, EntryPoint = "mknod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mknod(string path, uint mode, ulong device);

    [LibraryImport(Library, EntryPoint = "symlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Symlink(string target, string linkPath);

    /// <summary>makedev as glibc encodes it.</summary>
    public static ulong MakeDev(long major, long minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (ulong)(minor & 0xff);

    /// <summary>pivot_root(2) through glibc's wrapper (exported since glibc 2.2.5, with the right number per architecture).</summary>
    [LibraryImport(Library, EntryPoint = "pivot_root", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int PivotRoot(string newRoot, string putOld);
}
