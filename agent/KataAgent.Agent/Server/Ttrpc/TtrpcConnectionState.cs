namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// One ttrpc connection as its calls see it: who the peer is, and how many calls are running, so that a graceful
/// stop can close the connection once it is idle (as Go's ttrpc <c>Shutdown</c> closes idle connections) instead
/// of cutting calls off. The front end sets <see cref="Current"/> before it serves the connection; every call
/// dispatched from that serving loop inherits it through the execution context.
/// </summary>
internal sealed class TtrpcConnectionState(string peer, CancellationTokenSource close)
{
    private static readonly AsyncLocal<TtrpcConnectionState?> s_current = new();
    private int _running;
    private volatile bool _draining;

    /// <summary>The connection the current call arrived on; null outside a ttrpc call.</summary>
    public static TtrpcConnectionState? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>The peer, as <see cref="Grpc.Core.ServerCallContext.Peer"/> reports it.</summary>
    public string Peer { get; } = peer;

    /// <summary>Calls running on this connection now.</summary>
    public int Running => Volatile.Read(ref _running);

    public void CallStarted() => Interlocked.Increment(ref _running);

    public void CallEnded()
    {
        if (Interlocked.Decrement(ref _running) == 0 && _draining)
        {
            Close();
        }
    }

    /// <summary>Closes the connection now if no call is running, else when the last one ends.</summary>
    public void Drain()
    {
        _draining = true;
        if (Running == 0)
        {
            Close();
        }
    }

    private void Close()
    {
        try
        {
            close.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection ended by itself meanwhile.
        }
    }
}
