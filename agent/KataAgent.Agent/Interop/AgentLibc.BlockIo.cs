using System.Runtime.InteropServices;

namespace KataAgent.Agent.Interop;

/// <summary>Block I/O, loop devices, device-mapper and the random source, for the guest's pod volumes.</summary>
internal static unsafe partial class AgentLibc
{
    /// <summary>open: bypass the page cache (the raw disk and its dm-crypt mapping are separate caches).</summary>
    public const int O_DIRECT = 0x4000;

    /// <summary>_IO(0x4C, 0x82) on /dev/loop-control: the number of a free loop device, made if needed (linux/loop.h).</summary>
    public const ulong LOOP_CTL_GET_FREE = 0x4C82;

    /// <summary>_IO(0x4C, 0x0A): bind a backing file and set flags in one step (Linux 5.8; linux/loop.h).</summary>
    public const ulong LOOP_CONFIGURE = 0x4C0A;

    /// <summary>_IO(0x4C, 0x01): unbind the backing file.</summary>
    public const ulong LOOP_CLR_FD = 0x4C01;

    /// <summary>lo_flags: the loop device unbinds itself when its last opener (the mount) closes it.</summary>
    public const uint LO_FLAGS_AUTOCLEAR = 4;

    /// <summary>lo_flags: I/O to the backing file bypasses its page cache, so the guest does not cache each block twice.</summary>
    public const uint LO_FLAGS_DIRECT_IO = 16;

    /// <summary>sizeof(struct loop_config): fd, block_size, struct loop_info64 (232 bytes), __reserved[8].</summary>
    public const int LoopConfigSize = 304;

    /// <summary>Offset of loop_config.info.lo_flags: 8 + five __u64 + three __u32.</summary>
    public const int LoopConfigFlagsOffset = 8 + 40 + 12;

    [LibraryImport(Library, EntryPoint = "getrandom", SetLastError = true)]
    public static partial nint GetRandom(byte* buffer, nuint length, uint flags);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(Library, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    /// <summary>Fills <paramref name="buffer"/> from the kernel's CRNG (getrandom(2), blocking until it is seeded).</summary>
    public static void FillRandom(Span<byte> buffer)
    {
        fixed (byte* pointer = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint got = GetRandom(pointer + done, (nuint)(buffer.Length - done), 0);
                if (got < 0)
                {
                    var error = Linux.Interop.LinuxException.FromLastError("getrandom");
                    if (error.Errno == Linux.Interop.Errno.EINTR)
                    {
                        continue;
                    }
                    throw error;
                }
                done += (int)got;
            }
        }
    }
}
