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
            _ = CloseWhenIdleAsync();
        }
    }

    /// <summary>Closes the connection once no call is running: now if none is, else when the last one ends.</summary>
    public void Drain()
    {
        _draining = true;
        if (Running == 0)
        {
            _ = CloseWhenIdleAsync();
        }
    }

    /// <summary>
    /// A call counts as ended when its handler returns, and the server writes its answer just after that; closing
    /// the connection at once would cancel that write. So the close waits <see cref="AnswerGrace"/> and happens only
    /// if the connection is still idle then (a call that started meanwhile closes it when it ends).
    /// </summary>
    private async Task CloseWhenIdleAsync()
    {
        await Task.Delay(AnswerGrace).ConfigureAwait(false);
        if (Running == 0)
        {
            Close();
        }
    }

    /// <summary>How long a draining connection stays open after its last call's handler returned.</summary>
    private static readonly TimeSpan AnswerGrace = TimeSpan.FromMilliseconds(100);

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
