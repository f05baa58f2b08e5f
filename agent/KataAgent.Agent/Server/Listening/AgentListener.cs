using System.Collections.Concurrent;
using KataAgent.Agent.Server.Protocols;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Listening;

/// <summary>
/// The agent's accept loop on its address, whatever the transport: each connection is served on its own task by the
/// <see cref="ProtocolSelector"/>. The ttrpc connections are the listener's to drain when the agent stops; the HTTP/2
/// ones are Kestrel's once handed over.
/// </summary>
internal sealed class AgentListener(IConnectionListener transport, ProtocolSelector selector, ILogger logger)
{
    /// <summary>After an accept that failed for a reason the transport did not absorb, before the next one.</summary>
    private static readonly TimeSpan AcceptRetryPause = TimeSpan.FromMilliseconds(100);
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly CancellationTokenSource _drain = new();
    private readonly ConcurrentDictionary<ConnectionContext, Task> _connections = new();
    private Task _accepting = Task.CompletedTask;

    /// <summary>Starts accepting.</summary>
    public void Start() => _accepting = Task.Run(AcceptLoopAsync);

    /// <summary>
    /// Stops accepting, lets every connection it serves finish its running calls (ttrpc's drain: an idle connection
    /// closes at once), and aborts what still runs when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopAccepting.Cancel();
        await transport.UnbindAsync(CancellationToken.None).ConfigureAwait(false);
        await _accepting.ConfigureAwait(false);
        _drain.Cancel();
        try
        {
            await Task.WhenAll(_connections.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("{Count} connection(s) still busy at the end of the shutdown grace; closing them", _connections.Count);
            foreach (var connection in _connections.Keys)
            {
                connection.Abort(new ConnectionAbortedException("the agent is stopping"));
            }
            await Task.WhenAll(_connections.Values).ConfigureAwait(false);
        }
        await transport.DisposeAsync().ConfigureAwait(false);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopAccepting.IsCancellationRequested)
        {
            ConnectionContext? connection;
            try
            {
                connection = await transport.AcceptAsync(_stopAccepting.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopAccepting.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // PID 1 keeps serving: whatever one accept did (EMFILE, ENOMEM, ...), the next may work.
                logger.LogWarning("accepting a connection: {Error}", e.Message);
                await Task.Delay(AcceptRetryPause).ConfigureAwait(false);
                continue;
            }
            if (connection is null)
            {
                return;
            }
            var served = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[connection] = served.Task;
            _ = Task.Run(() => ServeAsync(connection, served));
        }
    }

    private async Task ServeAsync(ConnectionContext connection, TaskCompletionSource served)
    {
        try
        {
            bool handedOver = false;
            try
            {
                handedOver = await selector.OnConnectionAsync(connection, _drain.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                logger.LogWarning("{Connection}: {Error}", connection.ConnectionId, e);
            }
            _connections.TryRemove(connection, out _);
            if (!handedOver)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            served.TrySetResult();
        }
    }
}
