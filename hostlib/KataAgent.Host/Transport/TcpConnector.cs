using System.Net;
using System.Net.Sockets;

namespace KataAgent.Host.Transport;

/// <summary>TCP to a loopback address (tests and stand-alone agents).</summary>
public sealed class TcpConnector(IPEndPoint endPoint, string description) : IAgentConnector
{
    /// <inheritdoc />
    public string Description { get; } = description;

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
