using System.Net;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Transport;

/// <summary>
/// The listener for AF_VSOCK: the agent's one accept loop, <see cref="StreamListener"/>, run on a pool thread
/// per <see cref="AcceptAsync"/>. Accepted fds are carried by <see cref="FileDescriptorStream"/>: .NET's Socket has
/// no vsock endpoint type to describe them.
/// </summary>
internal sealed class VsockConnectionListener : IConnectionListener
{
    private const int Backlog = 128;
    private readonly VsockEndPoint _endPoint;
    private readonly ILogger _logger;
    private readonly StreamListener _listener;

    private VsockConnectionListener(VsockEndPoint endPoint, ILogger logger, StreamListener listener)
    {
        _endPoint = endPoint;
        _logger = logger;
        _listener = listener;
    }

    public EndPoint EndPoint => _endPoint;

    public static VsockConnectionListener Bind(VsockEndPoint endPoint, ILogger logger) =>
        new(endPoint, logger, StreamListener.Listen(endPoint.Address, Backlog));

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
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }

    private int AcceptBlocking()
    {
        while (true)
        {
            try
            {
                int fd = _listener.Accept(out var peer);
                if (fd >= 0)
                {
                    _logger.LogInformation("{Address}: connection from CID {Cid} port {Port}", _endPoint, peer.Cid, peer.Port);
                }
                return fd;
            }
            catch (LinuxException e)
            {
                // The server keeps listening whatever one accept did (EMFILE, ENOMEM, ...).
                _logger.LogWarning("{Address}: {Error}", _endPoint, e.Message);
            }
        }
    }
}
