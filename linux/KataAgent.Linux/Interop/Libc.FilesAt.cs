using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>
/// The *at(2) family relative to a directory fd, and extended attributes: the image library builds a rootfs
/// with them so that no path it is given is resolved from <c>/</c>, and the final component is never followed.
/// </summary>
internal static unsafe partial class Libc
{
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_TRUNC = 0x200;

    public const int AT_REMOVEDIR = 0x200;

    /// <summary>openat2(2) <c>resolve</c> flags (linux/openat2.h).</summary>
    public const ulong RESOLVE_NO_XDEV = 0x01;
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    public const ulong RESOLVE_BENEATH = 0x08;
    public const ulong RESOLVE_IN_ROOT = 0x10;

    /// <summary>utimensat's "leave this time alone".</summary>
    public const long UTIME_OMIT = (1L << 30) - 2;

    /// <summary>struct open_how (linux/openat2.h), 24 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    /// <summary>struct timespec on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Library, EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int OpenAt(int dirFd, string path, int flags, int mode);

    /// <summary>openat2(2) through syscall(2): glibc 2.36 has no wrapper. -1 with ENOSYS on kernels before 5.6.</summary>
    public static int OpenAt2(int dirFd, string path, ulong flags, ulong resolve)
    {
        var how = new OpenHow { Flags = flags, Resolve = resolve };
        byte[] native = new byte[System.Text.Encoding.UTF8.GetByteCount(path) + 1];
        System.Text.Encoding.UTF8.GetBytes(path, native);
        fixed (byte* p = native)
        {
            return (int)Syscall(SyscallNumbers.OpenAt2, dirFd, (long)p, (long)&how, sizeof(OpenHow), 0);
        }
    }

    [LibraryImport(Library, EntryPoint = "mkdirat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MkdirAt(int dirFd, string path, int mode);

    [LibraryImport(Library, EntryPoint = "mknodat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MknodAt(int dirFd, string path, int mode, ulong device);

    [LibraryImport(Library, EntryPoint = "symlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SymlinkAt(string target, int dirFd, string linkPath);

    /// <summary>linkat(2); without AT_SYMLINK_FOLLOW a symlink at the old path is linked itself, not followed.</summary>
    [LibraryImport(Library, EntryPoint = "linkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int LinkAt(int oldDirFd, string oldPath, int newDirFd, string newPath, int flags);

    [LibraryImport(Library, EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int UnlinkAt(int dirFd, string path, int flags);

    [LibraryImport(Library, EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint ReadlinkAt(int dirFd, string path, byte* buffer, nuint size);

    [LibraryImport(Library, EntryPoint = "fchownat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int FchownAt(int dirFd, string path, uint uid, uint gid, int flags);

    [LibraryImport(Library, EntryPoint = "fchown", SetLastError = true)]
    public static partial int Fchown(int fd, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, int mode);

    /// <summary>fchmodat(2) without flags: follows a final symlink, so callers use it only on what they just made.</summary>
    [LibraryImport(Library, EntryPoint = "fchmodat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int FchmodAt(int dirFd, string path, int mode, int flags);

    [LibraryImport(Library, EntryPoint = "utimensat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int UtimensAt(int dirFd, string path, Timespec* times, int flags);

    [LibraryImport(Library, EntryPoint = "futimens", SetLastError = true)]
    public static partial int Futimens(int fd, Timespec* times);

    [LibraryImport(Library, EntryPoint = "fsetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Fsetxattr(int fd, string name, byte* value, nuint size, int flags);

    /// <summary>setxattr(2) on a path: only on <c>/proc/self/fd/N</c> of an O_PATH fd, for nodes that cannot be opened.</summary>
    [LibraryImport(Library, EntryPoint = "setxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Setxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport(Library, EntryPoint = "flistxattr", SetLastError = true)]
    public static partial nint Flistxattr(int fd, byte* list, nuint size);

    [LibraryImport(Library, EntryPoint = "fgetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint Fgetxattr(int fd, string name, byte* value, nuint size);

    [LibraryImport(Library, EntryPoint = "fremovexattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Fremovexattr(int fd, string name);

    [LibraryImport(Library, EntryPoint = "llistxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint Llistxattr(string path, byte* list, nuint size);

    [LibraryImport(Library, EntryPoint = "lgetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint Lgetxattr(string path, string name, byte* value, nuint size);

    /// <summary>fdopendir(3): the DIR* owns the fd from then on (closedir closes it).</summary>
    [LibraryImport(Library, EntryPoint = "fdopendir", SetLastError = true)]
    public static partial nint Fdopendir(int fd);

    /// <summary>readdir(3); null at the end (errno unchanged) or on error (errno set).</summary>
    [LibraryImport(Library, EntryPoint = "readdir64", SetLastError = true)]
    public static partial nint Readdir(nint dir);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    public static partial int Closedir(nint dir);

    /// <summary>Offset of <c>d_name</c> in glibc's struct dirent64 (d_ino 8, d_off 8, d_reclen 2, d_type 1).</summary>
    public const int DirentNameOffset = 19;

    /// <summary>glibc's makedev(3) encoding of a device number.</summary>
    public static ulong MakeDevice(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8)
        | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
