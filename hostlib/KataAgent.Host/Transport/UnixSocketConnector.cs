using System.Net.Sockets;

namespace KataAgent.Host.Transport;

/// <summary>A unix stream socket: the agent's own (unix://) or a VMM's chardev socket (serial://).</summary>
public sealed class UnixSocketConnector(string path, string description) : IAgentConnector
{
    /// <inheritdoc />
    public string Description { get; } = description;

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            string endPointPath = path.StartsWith('@') ? "\0" + path[1..] : path;
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(endPointPath), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
