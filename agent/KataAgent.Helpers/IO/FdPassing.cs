using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.IO;

/// <summary>One datagram plus one file descriptor (SCM_RIGHTS) over a unix socket.</summary>
public static unsafe class FdPassing
{
    private static readonly int ControlSize = sizeof(Libc.CmsgHdr) + sizeof(nint);

    /// <summary>Sends <paramref name="message"/> with <paramref name="fd"/> attached.</summary>
    public static void Send(int socket, ReadOnlySpan<byte> message, int fd)
    {
        byte* control = stackalloc byte[ControlSize];
        new Span<byte>(control, ControlSize).Clear();
        var header = (Libc.CmsgHdr*)control;
        header->Length = (nuint)(sizeof(Libc.CmsgHdr) + sizeof(int));
        header->Level = Libc.SOL_SOCKET;
        header->Type = Libc.SCM_RIGHTS;
        *(int*)(control + sizeof(Libc.CmsgHdr)) = fd;
        fixed (byte* data = message)
        {
            var iov = new Libc.IoVec { Base = data, Length = (nuint)message.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)ControlSize };
            while (Libc.SendMsg(socket, &msg, 0) < 0)
            {
                var error = LinuxException.FromLastError("sendmsg with SCM_RIGHTS");
                if (error.Errno != Errno.EINTR)
                {
                    throw error;
                }
            }
        }
    }

    /// <summary>
    /// Receives one datagram, waiting up to <paramref name="timeoutMilliseconds"/>; the attached
    /// fd (CLOEXEC) comes back in <paramref name="fd"/>, or -1. Returns the message length (0 at EOF).
    /// </summary>
    public static int Receive(int socket, Span<byte> buffer, int timeoutMilliseconds, out int fd)
    {
        fd = -1;
        var poll = new Libc.PollFd { Fd = socket, Events = Libc.POLLIN };
        int ready = Libc.Poll(&poll, 1, timeoutMilliseconds);
        if (ready == 0)
        {
            throw new TimeoutException($"no message within {timeoutMilliseconds} ms");
        }
        byte* control = stackalloc byte[ControlSize];
        fixed (byte* data = buffer)
        {
            var iov = new Libc.IoVec { Base = data, Length = (nuint)buffer.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)ControlSize };
            nint n;
            while ((n = Libc.RecvMsg(socket, &msg, Libc.MSG_CMSG_CLOEXEC)) < 0)
            {
                var error = LinuxException.FromLastError("recvmsg");
                if (error.Errno is not (Errno.EINTR or Errno.EAGAIN))
                {
                    throw error;
                }
                Libc.Poll(&poll, 1, timeoutMilliseconds);
            }
            var header = (Libc.CmsgHdr*)control;
            if (msg.ControlLength >= (nuint)sizeof(Libc.CmsgHdr) && header->Level == Libc.SOL_SOCKET && header->Type == Libc.SCM_RIGHTS)
            {
                fd = *(int*)(control + sizeof(Libc.CmsgHdr));
            }
            return (int)n;
        }
    }
}
