using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

internal static unsafe partial class Libc
{
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_SETPIPE_SZ = 1031;
    public const int FD_CLOEXEC = 1;

    [LibraryImport(Library, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode = 0);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    /// <summary>read(2) into <paramref name="buffer"/>, retried on EINTR: the count, 0 at end of file, or minus errno.</summary>
    public static int ReadRetryingInterrupts(int fd, Span<byte> buffer)
    {
        while (true)
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = Read(fd, p, (nuint)buffer.Length);
            }
            if (n >= 0)
            {
                return (int)n;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return -errno;
            }
        }
    }

    /// <summary>chown(2): the agent's container files, and the host's passt socket directory.</summary>
    [LibraryImport(Library, EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chown(string path, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;
}
