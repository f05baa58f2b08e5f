using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static unsafe partial class Libc
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 0x1;
    public const uint STATX_MNT_ID = 0x1000;
    public const int S_IFMT = 0xF000;
    public const int S_IFLNK = 0xA000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFREG = 0x8000;

    /// <summary>struct statx (the same on every architecture, unlike struct stat): 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(144)] public ulong MountId;
    }

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatX(int dirFd, string path, int flags, uint mask, Statx* result);
}
