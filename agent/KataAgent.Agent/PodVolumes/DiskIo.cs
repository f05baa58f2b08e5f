using System.Runtime.InteropServices;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// Reads and writes of a disk's first blocks with O_DIRECT (a raw disk and the dm-crypt mapping over it have separate
/// page caches; going around both keeps each read honest), and its size. Buffers are page-aligned native memory,
/// cleared before they are freed.
/// </summary>
internal static unsafe class DiskIo
{
    /// <summary>The unit of every transfer: a page, a multiple of any logical block size a disk has here.</summary>
    public const int BlockSize = 4096;

    /// <summary>ext4's superblock magic, 0xEF53, little-endian at byte 1080 of the device (1024 + s_magic's offset 56).</summary>
    private const int Ext4MagicOffset = 1080;

    /// <summary>The device's size in bytes (BLKGETSIZE64).</summary>
    public static long Size(string devicePath)
    {
        int fd = Libc.Check(Libc.Open(devicePath, Libc.O_RDONLY | Libc.O_CLOEXEC), $"open {devicePath}");
        try
        {
            ulong size;
            Libc.Check(Libc.Ioctl(fd, AgentLibc.BLKGETSIZE64, &size), $"BLKGETSIZE64 {devicePath}");
            return (long)size;
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>True when an ext4 (or ext2/3) superblock's magic is where ext4 puts it.</summary>
    public static bool HoldsExt4(string devicePath)
    {
        byte[] head = Read(devicePath, 0, BlockSize);
        return head[Ext4MagicOffset] == 0x53 && head[Ext4MagicOffset + 1] == 0xEF;
    }

    /// <summary><paramref name="length"/> bytes (a multiple of <see cref="BlockSize"/>) at <paramref name="offset"/>.</summary>
    public static byte[] Read(string devicePath, long offset, int length)
    {
        int fd = Libc.Check(Libc.Open(devicePath, Libc.O_RDONLY | Libc.O_CLOEXEC | AgentLibc.O_DIRECT), $"open {devicePath}");
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)length, BlockSize);
        try
        {
            int done = 0;
            while (done < length)
            {
                nint got = Libc.Check(AgentLibc.PRead(fd, buffer + done, (nuint)(length - done), offset + done), $"read {devicePath} at {offset + done}");
                if (got == 0)
                {
                    throw new IOException($"{devicePath} ends before byte {offset + length}");
                }
                done += (int)got;
            }
            return new Span<byte>(buffer, length).ToArray();
        }
        finally
        {
            NativeMemory.Clear(buffer, (nuint)length);
            NativeMemory.AlignedFree(buffer);
            Libc.Close(fd);
        }
    }

    /// <summary>Writes <paramref name="data"/> (a multiple of <see cref="BlockSize"/>) at <paramref name="offset"/> and syncs it to the disk.</summary>
    public static void Write(string devicePath, long offset, ReadOnlySpan<byte> data)
    {
        int fd = Libc.Check(Libc.Open(devicePath, Libc.O_WRONLY | Libc.O_CLOEXEC | AgentLibc.O_DIRECT), $"open {devicePath}");
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)data.Length, BlockSize);
        try
        {
            data.CopyTo(new Span<byte>(buffer, data.Length));
            int done = 0;
            while (done < data.Length)
            {
                done += (int)Libc.Check(AgentLibc.PWrite(fd, buffer + done, (nuint)(data.Length - done), offset + done), $"write {devicePath} at {offset + done}");
            }
            Libc.Check(AgentLibc.Fsync(fd), $"fsync {devicePath}");
        }
        finally
        {
            NativeMemory.Clear(buffer, (nuint)data.Length);
            NativeMemory.AlignedFree(buffer);
            Libc.Close(fd);
        }
    }
}
