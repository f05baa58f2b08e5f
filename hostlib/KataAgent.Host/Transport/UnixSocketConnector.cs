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
        bool isAbstract = path.StartsWith('@');
        // .NET reports a missing socket file as "Cannot assign requested address"; say what it is.
        if (!isAbstract && !File.Exists(path))
        {
            throw new IOException($"connect {path}: the socket does not exist (yet)");
        }
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            string endPointPath = isAbstract ? "\0" + path[1..] : path;
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(endPointPath), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"connect {path}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
