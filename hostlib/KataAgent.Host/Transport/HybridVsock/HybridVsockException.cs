namespace KataAgent.Host.Transport.HybridVsock;

/// <summary>
/// The hybrid-vsock CONNECT handshake failed; the message names the socket, the port and why. Internal: callers see
/// it as the inner exception of the host library's connect error.
/// </summary>
internal sealed class HybridVsockException : IOException
{
    /// <summary>A failed handshake on <paramref name="socketPath"/> for <paramref name="port"/>, because of <paramref name="reason"/>.</summary>
    public HybridVsockException(string socketPath, uint port, string reason, Exception? inner = null)
        : base($"hybrid vsock CONNECT {port} on {socketPath}: {reason}", inner)
    {
        SocketPath = socketPath;
        Port = port;
        Reason = reason;
    }

    /// <summary>The hybrid-vsock unix socket the handshake ran on.</summary>
    public string SocketPath { get; }

    /// <summary>The vsock port asked for with CONNECT.</summary>
    public uint Port { get; }

    /// <summary>Why the handshake failed.</summary>
    public string Reason { get; }
}
