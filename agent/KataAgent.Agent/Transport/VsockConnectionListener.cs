using System.Net;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Linux.Vsock;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Transport;

/// <summary>
/// Listens on AF_VSOCK with raw syscalls and accepts with poll+accept4, waking on an eventfd at
/// unbind. Accepted fds are carried by <see cref="FileDescriptorStream"/>: .NET's Socket has no
/// vsock endpoint type to describe them.
/// </summary>
internal sealed class VsockConnectionListener : IConnectionListener
{
    private const int Backlog = 128;
    private readonly VsockEndPoint _endPoint;
    private readonly ILogger _logger;
    private readonly int _listenFd;
    private readonly int _wakeFd;
    private int _closed;

    private VsockConnectionListener(VsockEndPoint endPoint, ILogger logger, int listenFd, int wakeFd)
    {
        _endPoint = endPoint;
        _logger = logger;
        _listenFd = listenFd;
        _wakeFd = wakeFd;
    }

    public EndPoint EndPoint => _endPoint;

    public static VsockConnectionListener Bind(VsockEndPoint endPoint, ILogger logger)
    {
        int fd = VsockSocket.Listen(endPoint.Address.Cid, endPoint.Address.Port, Backlog);
        int wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (wake < 0)
        {
            var error = LinuxException.FromLastError("eventfd");
            Libc.Close(fd);
            throw error;
        }
        int flags = Libc.Fcntl(fd, Libc.F_GETFL, 0);
        Libc.Check(Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK), "fcntl(O_NONBLOCK) on vsock listener");
        return new VsockConnectionListener(endPoint, logger, fd, wake);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        int fd = await Task.Run(AcceptBlocking, cancellationToken).ConfigureAwait(false);
        if (fd < 0)
        {
            return null;
        }
        return new StreamConnection(new FileDescriptorStream(fd, ownsFd: true), "vsock", _endPoint);
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Close();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    private unsafe int AcceptBlocking()
    {
        Libc.PollFd* fds = stackalloc Libc.PollFd[2];
        while (Volatile.Read(ref _closed) == 0)
        {
            fds[0] = new Libc.PollFd { Fd = _listenFd, Events = Libc.POLLIN };
            fds[1] = new Libc.PollFd { Fd = _wakeFd, Events = Libc.POLLIN };
            if (Libc.Poll(fds, 2, -1) < 0 || fds[1].Revents != 0)
            {
                continue;
            }
            VsockAddress peer = default;
            uint length = (uint)sizeof(VsockAddress);
            int fd = Libc.Accept4(_listenFd, &peer, &length, Libc.SOCK_CLOEXEC);
            if (fd >= 0)
            {
                _logger.LogInformation("{Address}: connection from CID {Cid} port {Port}", _endPoint, peer.Cid, peer.Port);
                return fd;
            }
            var error = LinuxException.FromLastError("accept4 on vsock listener");
            if (error.Errno is not (Errno.EAGAIN or Errno.EINTR or Errno.ECONNRESET))
            {
                _logger.LogWarning("{Address}: {Error}", _endPoint, error.Message);
            }
        }
        return -1;
    }

    private unsafe void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }
        ulong one = 1;
        Libc.Write(_wakeFd, (byte*)&one, sizeof(ulong));
        // The accept thread may still be in poll on these fds; it leaves at the wake-up. Closing
        // the listening fd here is safe: poll on a closed fd reports POLLNVAL and the loop exits.
        Libc.Close(_listenFd);
    }
}
