namespace KataAgent.Linux.HybridVsock;

/// <summary>The hybrid-vsock CONNECT handshake failed; the message names the socket, the port and why.</summary>
public sealed class HybridVsockException : IOException
{
    public HybridVsockException(string socketPath, uint port, string reason, Exception? inner = null)
        : base($"hybrid vsock CONNECT {port} on {socketPath}: {reason}", inner)
    {
        SocketPath = socketPath;
        Port = port;
        Reason = reason;
    }

    public string SocketPath { get; }

    public uint Port { get; }

    public string Reason { get; }
}
