using System.Runtime.InteropServices;

namespace KataAgent.Linux.Interop;

/// <summary>eventfd(2) counters as 8-byte reads and writes (the fd itself comes from <see cref="EventFd"/>).</summary>
internal static unsafe partial class Libc
{
    /// <summary>Adds <paramref name="value"/> to the counter; false with errno set when the write failed (EAGAIN at overflow, EBADF).</summary>
    public static bool EventFdWrite(int fd, ulong value = 1)
    {
        nint written;
        do
        {
            written = Write(fd, (byte*)&value, sizeof(ulong));
        }
        while (written < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
        return written == sizeof(ulong);
    }

    /// <summary>Reads and resets the counter; 0 when it was already 0 on a non-blocking eventfd (or the read failed).</summary>
    public static ulong EventFdRead(int fd)
    {
        ulong value = 0;
        nint read;
        do
        {
            read = Read(fd, (byte*)&value, sizeof(ulong));
        }
        while (read < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR);
        return read == sizeof(ulong) ? value : 0;
    }
}
