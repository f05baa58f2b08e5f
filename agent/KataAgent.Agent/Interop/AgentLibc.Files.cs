using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    public const int O_WRONLY = 0x1;
    public const int O_RDONLY = 0x0;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_TRUNC = 0x200;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_NLINK = 0x4;
    public const uint STATX_SIZE = 0x200;

    /// <summary>Not in the shared Errno list: only CopyFile's walk meets it (O_NOFOLLOW on a symlink).</summary>
    public const int ELOOP = 40;

    /// <summary>openat(2): CopyFile opens each path component relative to its parent, never by a full path.</summary>
    [LibraryImport(Library, EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int OpenAt(int dirFd, string name, int flags, uint mode);

    [LibraryImport(Library, EntryPoint = "mkdirat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MkDirAt(int dirFd, string name, uint mode);

    [LibraryImport(Library, EntryPoint = "symlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SymlinkAt(string target, int dirFd, string name);

    [LibraryImport(Library, EntryPoint = "renameat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int RenameAt(int oldDirFd, string oldName, int newDirFd, string newName);

    [LibraryImport(Library, EntryPoint = "unlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int UnlinkAt(int dirFd, string name, int flags);

    /// <summary>fchownat(2) with AT_SYMLINK_NOFOLLOW: the owner of a symlink itself (lchown relative to a directory fd).</summary>
    [LibraryImport(Library, EntryPoint = "fchownat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int FChownAt(int dirFd, string name, uint uid, uint gid, int flags);

    [LibraryImport(Library, EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(int fd, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(int fd, uint mode);

    [LibraryImport(Library, EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint PWrite(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(int fd);

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatXAt(int dirFd, string path, int flags, uint mask, Statx* result);

    /// <summary>The type bits, link count and size of the file <paramref name="fd"/> is open on.</summary>
    public static (int Type, uint Links, long Size) FStat(int fd, string operation)
    {
        Statx result;
        KataAgent.Linux.Interop.Libc.Check(StatXAt(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_NLINK | STATX_SIZE, &result), operation);
        return (result.Mode & S_IFMT, result.Nlink, (long)result.Size);
    }
}
