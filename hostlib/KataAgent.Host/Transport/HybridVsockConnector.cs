using KataAgent.Host.Transport.HybridVsock;

namespace KataAgent.Host.Transport;

/// <summary>
/// Hybrid vsock: connect to the VMM's unix socket, then CONNECT/OK to reach the guest port
/// (Firecracker, Cloud Hypervisor, vhost-user-vsock backends).
/// </summary>
public sealed class HybridVsockConnector(string socketPath, uint port, TimeSpan handshakeTimeout, string description) : IAgentConnector
{
    private readonly UnixSocketConnector _socket = new(socketPath, description);

    /// <inheritdoc />
    public string Description { get; } = description;

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        Stream stream = await _socket.ConnectAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await HybridVsockHandshake.ConnectAsync(stream, socketPath, port, handshakeTimeout, cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
