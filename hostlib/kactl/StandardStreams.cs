using KataAgent.Linux.Interop;

namespace KataAgent.Kactl;

/// <summary>
/// kactl's fds 0, 1 and 2 as raw read(2)/write(2): no .NET console layer (which would edit lines
/// on a terminal, and may set terminal modes of its own), no FileStream position tracking (which
/// would overwrite when stdout and stderr share one file).
/// </summary>
public static unsafe class StandardStreams
{
    public const int Stdin = 0;
    public const int Stdout = 1;
    public const int Stderr = 2;

    /// <summary>Blocking read; 0 at end of input (or EIO: the terminal went away).</summary>
    /// <exception cref="LinuxException">read(2) failed otherwise.</exception>
    public static int Read(int fd, Span<byte> buffer)
    {
        while (true)
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = Libc.Read(fd, p, (nuint)buffer.Length);
            }
            if (n >= 0)
            {
                return (int)n;
            }
            var error = LinuxException.FromLastError($"read fd {fd}");
            switch (error.Errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.EAGAIN:
                    WaitFor(fd, Libc.POLLIN);
                    continue;
                case Errno.EIO:
                    return 0;
                default:
                    throw error;
            }
        }
    }

    /// <summary>Writes all of <paramref name="data"/>; false when the reader has gone (EPIPE).</summary>
    /// <exception cref="LinuxException">write(2) failed otherwise.</exception>
    public static bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            nint n;
            fixed (byte* p = data)
            {
                n = Libc.Write(fd, p, (nuint)data.Length);
            }
            if (n >= 0)
            {
                data = data[(int)n..];
                continue;
            }
            var error = LinuxException.FromLastError($"write fd {fd}");
            switch (error.Errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.EAGAIN:
                    WaitFor(fd, Libc.POLLOUT);
                    continue;
                case Errno.EPIPE:
                    return false;
                default:
                    throw error;
            }
        }
        return true;
    }

    private static void WaitFor(int fd, short events)
    {
        var poll = new Libc.PollFd { Fd = fd, Events = events };
        _ = Libc.Poll(&poll, 1, -1);
    }
}
