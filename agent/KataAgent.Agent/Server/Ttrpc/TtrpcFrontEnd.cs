using Grpc.Core;
using KataAgent.Agent.Server.Binding;
using KataAgent.Agent.Transport;
using KataAgent.Protocols.Ttrpc;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// The agent's ttrpc front end: one <see cref="TtrpcServer"/> holding the same services the gRPC front end serves
/// (bound by <see cref="TtrpcServiceBinder"/>), serving the connections the protocol selector hands it. A connection
/// ends when the peer closes it, when its bytes are not ttrpc frames (that connection only), or, once the listener
/// drains (the agent is stopping), when the calls running on it have answered (the server's drain).
/// </summary>
internal sealed class TtrpcFrontEnd
{
    /// <summary>Answers an unknown service or method as Kata's agent (Rust ttrpc) does: INVALID_ARGUMENT "/service/method does not exist".</summary>
    private readonly TtrpcServer _server = new() { UnknownMethods = TtrpcUnknownMethodStyle.Rust };
    private readonly ILogger _logger;

    /// <summary>Binds the services <paramref name="bind"/> names (it calls each generated <c>BindService</c> with the binder it gets).</summary>
    public TtrpcFrontEnd(Action<ServiceBinderBase> bind, PolicyGate policy, int maxReceiveMessageSize, ILogger<TtrpcFrontEnd> logger)
    {
        _logger = logger;
        bind(new TtrpcServiceBinder(_server, policy, maxReceiveMessageSize, logger));
    }

    /// <summary>
    /// Serves <paramref name="connection"/> until it ends, or, once <paramref name="drain"/> is cancelled, until the
    /// calls running on it have answered; never throws for what the peer does.
    /// </summary>
    public async Task ServeAsync(ConnectionContext connection, CancellationToken drain)
    {
        string peer = "ttrpc:" + (connection.RemoteEndPoint?.ToString() is { Length: > 0 } remote ? remote : connection.ConnectionId);
        TtrpcConnectionState.Current = new TtrpcConnectionState(peer);
        // A frame goes straight to the transport when there is one to write to: through the output pipe it was copied
        // twice more (into the pipe's 4 KiB segments, and joined again for one write) at every 64 KiB of output.
        await using var stream = connection is StreamConnection direct
            ? new DuplexPipeStream(connection.Transport.Input, direct.TransportStream)
            : new DuplexPipeStream(connection.Transport);
        _logger.LogDebug("{Connection}: ttrpc", connection.ConnectionId);
        try
        {
            await _server.ServeConnectionAsync(stream, drain: drain, cancellationToken: connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (TtrpcProtocolException e)
        {
            _logger.LogWarning("{Connection}: not ttrpc, closing it: {Error}", connection.ConnectionId, e.Message);
        }
        catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested)
        {
            _logger.LogDebug("{Connection}: ttrpc connection closed by the agent", connection.ConnectionId);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException)
        {
            _logger.LogDebug("{Connection}: {Error}", connection.ConnectionId, e.Message);
        }
        finally
        {
            TtrpcConnectionState.Current = null;
        }
    }
}
