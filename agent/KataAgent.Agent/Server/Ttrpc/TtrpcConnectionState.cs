namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// One ttrpc connection as its calls see it: who the peer is. The front end sets <see cref="Current"/> before it
/// serves the connection; every call dispatched from that serving loop inherits it through the execution context,
/// as the codec's call context knows nothing of transports.
/// </summary>
internal sealed class TtrpcConnectionState(string peer)
{
    private static readonly AsyncLocal<TtrpcConnectionState?> s_current = new();

    /// <summary>The connection the current call arrived on; null outside a ttrpc call.</summary>
    public static TtrpcConnectionState? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>The peer, as <see cref="Grpc.Core.ServerCallContext.Peer"/> reports it.</summary>
    public string Peer { get; } = peer;
}
