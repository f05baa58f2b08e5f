using KataAgent.Linux.Interop;

namespace KataAgent.Agent.IO;

/// <summary>Which side of an <see cref="FdPump"/> ended it.</summary>
public enum FdPumpEnd
{
    /// <summary>The first fd read end-of-file, hung up or failed.</summary>
    FirstClosed,

    /// <summary>The second fd read end-of-file, hung up or failed.</summary>
    SecondClosed,

    /// <summary>The wake fd was signalled.</summary>
    Stopped,
}

/// <summary>
/// Copies bytes both ways between two fds (a serial port or socket and a pty master) on the calling
/// thread with poll, until one side ends or a wake fd (an eventfd) becomes readable. Neither fd is
/// closed. End of a side is a read of 0 bytes, EIO (a pty master whose slave is gone; a pty standing
/// in for a port whose host end went away) or a hang-up with nothing left to read. A side that does
/// not read makes the other direction wait in poll; it never spins and never drops bytes.
/// </summary>
public static unsafe class FdPump
{
    private const int BufferSize = 4096;

    public static FdPumpEnd Run(int first, int second, int wakeFd)
    {
        SetNonBlocking(first);
        SetNonBlocking(second);
        var toSecond = new Pending();
        var toFirst = new Pending();
        Libc.PollFd* fds = stackalloc Libc.PollFd[3];
        while (true)
        {
            fds[0] = new Libc.PollFd { Fd = first, Events = (short)((toSecond.IsEmpty ? Libc.POLLIN : 0) | (toFirst.IsEmpty ? 0 : Libc.POLLOUT)) };
            fds[1] = new Libc.PollFd { Fd = second, Events = (short)((toFirst.IsEmpty ? Libc.POLLIN : 0) | (toSecond.IsEmpty ? 0 : Libc.POLLOUT)) };
            fds[2] = new Libc.PollFd { Fd = wakeFd, Events = Libc.POLLIN };
            if (Libc.Poll(fds, 3, -1) < 0)
            {
                var error = LinuxException.FromLastError("poll");
                if (error.Errno == Errno.EINTR)
                {
                    continue;
                }
                throw error;
            }
            if (fds[2].Revents != 0)
            {
                return FdPumpEnd.Stopped;
            }
            if (!Move(first, second, toSecond, fds[0].Revents, fds[1].Revents))
            {
                return FdPumpEnd.FirstClosed;
            }
            if (!Move(second, first, toFirst, fds[1].Revents, fds[0].Revents))
            {
                return FdPumpEnd.SecondClosed;
            }
            // A write error on the destination means that side is gone.
            if (toSecond.WriteFailed)
            {
                return FdPumpEnd.SecondClosed;
            }
            if (toFirst.WriteFailed)
            {
                return FdPumpEnd.FirstClosed;
            }
        }
    }

    /// <summary>Reads from <paramref name="source"/> when it is ready and flushes to <paramref name="target"/>; false when the source ended.</summary>
    private static bool Move(int source, int target, Pending pending, short sourceEvents, short targetEvents)
    {
        if (pending.IsEmpty && (sourceEvents & (Libc.POLLIN | Libc.POLLHUP | Libc.POLLERR)) != 0)
        {
            nint n;
            fixed (byte* p = pending.Buffer)
            {
                n = Libc.Read(source, p, BufferSize);
            }
            if (n == 0)
            {
                return false;
            }
            if (n < 0)
            {
                var error = LinuxException.FromLastError("read");
                if (error.Errno is not (Errno.EAGAIN or Errno.EINTR))
                {
                    return false;
                }
            }
            else
            {
                pending.Offset = 0;
                pending.Length = (int)n;
            }
        }
        if (!pending.IsEmpty && ((targetEvents & Libc.POLLOUT) != 0 || pending.Offset == 0))
        {
            Flush(target, pending);
        }
        return true;
    }

    private static void Flush(int target, Pending pending)
    {
        while (!pending.IsEmpty)
        {
            nint n;
            fixed (byte* p = pending.Buffer)
            {
                n = Libc.Write(target, p + pending.Offset, (nuint)(pending.Length - pending.Offset));
            }
            if (n > 0)
            {
                pending.Offset += (int)n;
                continue;
            }
            var error = LinuxException.FromLastError("write");
            if (error.Errno == Errno.EINTR)
            {
                continue;
            }
            if (error.Errno != Errno.EAGAIN)
            {
                pending.WriteFailed = true;
            }
            return;
        }
        pending.Offset = 0;
        pending.Length = 0;
    }

    private static void SetNonBlocking(int fd)
    {
        int flags = Libc.Check(Libc.Fcntl(fd, Libc.F_GETFL, 0), "fcntl(F_GETFL)");
        Libc.Check(Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK), "fcntl(F_SETFL, O_NONBLOCK)");
    }

    private sealed class Pending
    {
        public byte[] Buffer { get; } = new byte[BufferSize];

        public int Offset { get; set; }

        public int Length { get; set; }

        public bool WriteFailed { get; set; }

        public bool IsEmpty => Offset >= Length;
    }
}
