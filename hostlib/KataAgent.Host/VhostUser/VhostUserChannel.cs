using KataAgent.Linux.Interop;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// The connected unix socket of one front-end, as messages: the header comes in with recvmsg so the fds that ride
/// on its first byte (SCM_RIGHTS) are caught, the payload with recv. The socket is non-blocking and every wait is a
/// poll on it and the server's wake eventfd, so disposing the server ends a read or write half-way.
/// </summary>
internal sealed unsafe class VhostUserChannel : IDisposable
{
    private static readonly int ControlSize = Libc.CmsgSpace(VhostUserMessage.MaxFds * sizeof(int));

    private readonly SafeFileDescriptor _socket;
    private readonly int _wakeFd;

    /// <param name="socket">The accepted connection; the channel owns it.</param>
    /// <param name="wakeFd">The server's wake eventfd, borrowed: once it is readable every wait gives up.</param>
    public VhostUserChannel(SafeFileDescriptor socket, int wakeFd)
    {
        _socket = socket;
        _wakeFd = wakeFd;
        int fd = Fd;
        int flags = Libc.Check(Libc.Fcntl(fd, Libc.F_GETFL, 0), "fcntl(F_GETFL) on a vhost-user connection");
        Libc.Check(Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK), "fcntl(O_NONBLOCK) on a vhost-user connection");
    }

    /// <summary>The socket, for the connection's poll set.</summary>
    public int Fd => (int)_socket.DangerousGetHandle();

    /// <summary>
    /// Reads the next message; null when the front-end closed the connection before its first byte, or the server
    /// is being disposed.
    /// </summary>
    /// <exception cref="VhostUserProtocolException">The message is malformed (version, size, too many fds) or ends half-way.</exception>
    /// <exception cref="LinuxException">The socket failed.</exception>
    public VhostUserMessage? Receive()
    {
        var fds = new List<SafeFileDescriptor>(0);
        try
        {
            Span<byte> headerBytes = stackalloc byte[VhostUserHeader.Length];
            int got = ReceiveHeaderStart(headerBytes, fds);
            if (got <= 0)
            {
                return null;
            }
            if (!ReceiveExactly(headerBytes[got..]))
            {
                return null;
            }
            var header = VhostUserHeader.Read(headerBytes);
            if ((header.Flags & VhostUserHeader.VersionMask) != VhostUserHeader.Version)
            {
                throw new VhostUserProtocolException($"request {(uint)header.Request} with flags 0x{header.Flags:x}: protocol version {header.Flags & VhostUserHeader.VersionMask}, not 1");
            }
            if (header.Size > VhostUserMessage.MaxPayload)
            {
                throw new VhostUserProtocolException($"{header.Request.Name()} ({(uint)header.Request}) announces {header.Size} payload bytes, more than {VhostUserMessage.MaxPayload}");
            }
            var payload = new byte[header.Size];
            if (!ReceiveExactly(payload))
            {
                return null;
            }
            var message = new VhostUserMessage(header, payload, fds.ToArray());
            fds.Clear();
            return message;
        }
        finally
        {
            foreach (var fd in fds)
            {
                fd.Dispose();
            }
        }
    }

    /// <summary>Sends a reply (flags: version 1 and REPLY) with <paramref name="payload"/>; a front-end already gone is no error here, its next read says so.</summary>
    public void SendReply(VhostUserRequest request, ReadOnlySpan<byte> payload)
    {
        Span<byte> message = stackalloc byte[VhostUserHeader.Length + payload.Length];
        new VhostUserHeader(request, VhostUserHeader.Version | VhostUserHeader.ReplyFlag, (uint)payload.Length).Write(message);
        payload.CopyTo(message[VhostUserHeader.Length..]);
        int sent = 0;
        fixed (byte* data = message)
        {
            while (sent < message.Length)
            {
                nint n = Libc.SendTo(Fd, data + sent, (nuint)(message.Length - sent), Libc.MSG_NOSIGNAL, null, 0);
                if (n >= 0)
                {
                    sent += (int)n;
                    continue;
                }
                var error = LinuxException.FromLastError($"send {request.Name()} reply");
                switch (error.Errno)
                {
                    case Errno.EINTR:
                        continue;
                    case Errno.EAGAIN:
                        if (!Wait(Libc.POLLOUT))
                        {
                            return;
                        }
                        continue;
                    case Errno.EPIPE or Errno.ECONNRESET:
                        return;
                    default:
                        throw error;
                }
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>The first bytes of a header with the fds on them; 0 at EOF or when woken.</summary>
    private int ReceiveHeaderStart(Span<byte> header, List<SafeFileDescriptor> fds)
    {
        byte* control = stackalloc byte[ControlSize];
        fixed (byte* data = header)
        {
            while (true)
            {
                var iov = new Libc.IoVec { Base = data, Length = (nuint)header.Length };
                var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)ControlSize };
                nint n = Libc.RecvMsg(Fd, &msg, Libc.MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    var error = LinuxException.FromLastError("recvmsg on a vhost-user connection");
                    if (error.Errno == Errno.EINTR)
                    {
                        continue;
                    }
                    if (error.Errno == Errno.EAGAIN)
                    {
                        if (!Wait(Libc.POLLIN))
                        {
                            return 0;
                        }
                        continue;
                    }
                    if (error.Errno == Errno.ECONNRESET)
                    {
                        return 0;
                    }
                    throw error;
                }
                CollectFds(&msg, fds);
                if ((msg.Flags & Libc.MSG_CTRUNC) != 0)
                {
                    throw new VhostUserProtocolException($"a message with more than {VhostUserMessage.MaxFds} fds");
                }
                return (int)n;
            }
        }
    }

    private static void CollectFds(Libc.MsgHdr* msg, List<SafeFileDescriptor> fds)
    {
        byte* control = (byte*)msg->Control;
        nuint offset = 0;
        // CMSG_FIRSTHDR / CMSG_NXTHDR by hand: each header's cmsg_len, rounded up to size_t, leads to the next.
        while (offset + (nuint)sizeof(Libc.CmsgHdr) <= msg->ControlLength)
        {
            var cmsg = (Libc.CmsgHdr*)(control + offset);
            if (cmsg->Length < (nuint)sizeof(Libc.CmsgHdr) || offset + cmsg->Length > msg->ControlLength)
            {
                break;
            }
            if (cmsg->Level == Libc.SOL_SOCKET && cmsg->Type == Libc.SCM_RIGHTS)
            {
                int count = (int)(cmsg->Length - (nuint)sizeof(Libc.CmsgHdr)) / sizeof(int);
                int* received = (int*)(cmsg + 1);
                for (int i = 0; i < count; i++)
                {
                    fds.Add(new SafeFileDescriptor(received[i]));
                }
            }
            offset += (cmsg->Length + (nuint)sizeof(nuint) - 1) & ~((nuint)sizeof(nuint) - 1);
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; false when the server is being disposed or the front-end reset the connection.</summary>
    /// <exception cref="VhostUserProtocolException">The front-end closed the connection half-way through the buffer.</exception>
    private bool ReceiveExactly(Span<byte> buffer)
    {
        int got = 0;
        fixed (byte* data = buffer)
        {
            while (got < buffer.Length)
            {
                nint n = Libc.Recv(Fd, data + got, (nuint)(buffer.Length - got), 0);
                if (n > 0)
                {
                    got += (int)n;
                    continue;
                }
                if (n == 0)
                {
                    throw new VhostUserProtocolException($"the connection closed {got} bytes into a {buffer.Length}-byte part of a message");
                }
                var error = LinuxException.FromLastError("recv on a vhost-user connection");
                if (error.Errno == Errno.EINTR)
                {
                    continue;
                }
                if (error.Errno == Errno.EAGAIN)
                {
                    if (!Wait(Libc.POLLIN))
                    {
                        return false;
                    }
                    continue;
                }
                if (error.Errno == Errno.ECONNRESET)
                {
                    return false;
                }
                throw error;
            }
        }
        return true;
    }

    /// <summary>Waits until the socket is ready for <paramref name="events"/> (or hung up); false when the server is being disposed.</summary>
    private bool Wait(short events)
    {
        Libc.PollFd* fds = stackalloc Libc.PollFd[2];
        while (true)
        {
            fds[0] = new Libc.PollFd { Fd = Fd, Events = events };
            fds[1] = new Libc.PollFd { Fd = _wakeFd, Events = Libc.POLLIN };
            if (Libc.Poll(fds, 2, -1) < 0)
            {
                continue;
            }
            if (fds[1].Revents != 0)
            {
                return false;
            }
            if (fds[0].Revents != 0)
            {
                return true;
            }
        }
    }
}
