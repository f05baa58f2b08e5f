using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_NLINK = 0x4;
    public const uint STATX_SIZE = 0x200;
    public const int S_IFMT = 0xF000;
    public const int S_IFSOCK = 0xC000;
    public const int S_IFLNK = 0xA000;
    public const int S_IFREG = 0x8000;
    public const int S_IFBLK = 0x6000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFCHR = 0x2000;
    public const int S_IFIFO = 0x1000;

    /// <summary>struct statx is the same on every architecture, unlike struct stat; 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(40)] public ulong Size;
    }

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatX(int dirFd, string path, int flags, uint mask, Statx* result);

    /// <summary>The S_IFMT bits of <paramref name="path"/> (not following a final symlink), or null if it does not exist.</summary>
    public static int? FileType(string path)
    {
        Statx result;
        if (StatX(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &result) != 0)
        {
            var error = LinuxException.FromLastError($"statx {path}");
            return error.Errno == Errno.ENOENT ? null : throw error;
        }
        return result.Mode & S_IFMT;
    }

    /// <summary>The type bits, link count and size of the file <paramref name="fd"/> is open on.</summary>
    public static (int Type, uint Links, long Size) FStat(int fd, string operation)
    {
        Statx result;
        Libc.Check(StatX(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_NLINK | STATX_SIZE, &result), operation);
        return (result.Mode & S_IFMT, result.Nlink, (long)result.Size);
    }
}
