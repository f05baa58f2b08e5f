using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    /// <summary>lseek whence: the next hole at or after the offset (the file's end counts as one).</summary>
    public const int SEEK_HOLE = 4;

    /// <summary>_IOR(0x12, 114, size_t): a block device's size in bytes (linux/fs.h).</summary>
    public const ulong BLKGETSIZE64 = 0x80081272;

    /// <summary>_IOW('f', 16, __u64): grow a mounted ext4 filesystem to the given block count (linux/ext4.h).</summary>
    public const ulong EXT4_IOC_RESIZE_FS = 0x40086610;

    /// <summary>
    /// struct statfs on the 64-bit ABIs (x86_64 and the generic one aarch64 uses): every word a long,
    /// 120 bytes. f_flags holds the mount's ST_* flags, which have the MS_* values.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StatFs
    {
        public long Type;
        public long BlockSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FsId;
        public long NameLength;
        public long FragmentSize;
        public long Flags;
        public long Spare0;
        public long Spare1;
        public long Spare2;
        public long Spare3;
    }

    [LibraryImport(Library, EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Statfs(string path, StatFs* result);

    [LibraryImport(Library, EntryPoint = "swapon", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SwapOn(string path, int flags);

    [LibraryImport(Library, EntryPoint = "swapoff", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int SwapOff(string path);

    [LibraryImport(Library, EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, byte* buffer, nuint count, long offset);
}
