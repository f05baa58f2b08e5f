using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace KataAgent.Agent.Server.GrpcHost;

/// <summary>
/// Kestrel's listener in the agent: a queue of connections the agent's own listener accepted and found to be HTTP/2.
/// Each is handed over with the bytes already read still unconsumed in its input pipe, so HTTP/2 reads the preface
/// from the start; Kestrel owns (and disposes) a connection from then on.
/// </summary>
internal sealed class HandoffConnectionListener(HandoffEndPoint endPoint) : IConnectionListener
{
    private readonly Channel<ConnectionContext> _queue = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

    public EndPoint EndPoint => endPoint;

    /// <summary>Queues <paramref name="connection"/> for Kestrel; false once Kestrel has let go of the listener (the agent is stopping).</summary>
    public bool TryHandOff(ConnectionContext connection) => _queue.Writer.TryWrite(connection);

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (_queue.Reader.TryRead(out var connection))
                {
                    return connection;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        return null;
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => CloseAsync();

    public ValueTask DisposeAsync() => CloseAsync();

    /// <summary>No more connections; one queued but never accepted is closed here, as nobody else will.</summary>
    private async ValueTask CloseAsync()
    {
        _queue.Writer.TryComplete();
        while (_queue.Reader.TryRead(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
