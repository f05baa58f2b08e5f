using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static unsafe partial class Libc
{
    /// <summary>_IOW('R', 0x03, int[2]): add bytes to the input pool and credit entropy (linux/random.h).</summary>
    public const ulong RNDADDENTROPY = 0x40085203;

    /// <summary>_IO('R', 0x07): reseed the CRNG from the input pool now (linux/random.h).</summary>
    public const ulong RNDRESEEDCRNG = 0x5207;

    /// <summary>TIOCSWINSZ: set a terminal's window size (asm-generic/ioctls.h).</summary>
    public const ulong TIOCSWINSZ = 0x5414;

    /// <summary>_IOW(VHOST_VIRTIO, 0x60, __u64): claim a guest CID on a /dev/vhost-vsock fd (linux/vhost.h); EADDRINUSE if another VM has it.</summary>
    public const ulong VHOST_VSOCK_SET_GUEST_CID = 0x4008AF60;

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, void* argument);

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, nint argument);
}
