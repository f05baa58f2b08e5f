using KataAgent.Agent.Server.GrpcHost;
using KataAgent.Agent.Server.Ttrpc;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Protocols;

/// <summary>
/// Picks each connection's protocol by its first bytes, read without being consumed (<see cref="ProtocolSniffer"/>),
/// on every transport (vsock, serial, unix, tcp): ttrpc is served here by the ttrpc front end, an HTTP/2 connection
/// goes to Kestrel (<see cref="LazyGrpcHost"/>, started by the first one) with those bytes still in its input. Both
/// reach the same service instances, so the two protocols share one core and one error mapping. A connection that
/// ends before its first byte (a serial port whose host end comes and goes) is simply let go, and its transport
/// waits for the next.
/// </summary>
internal sealed class ProtocolSelector(Func<TtrpcFrontEnd> ttrpc, LazyGrpcHost grpc, ILogger logger)
{
    /// <summary>
    /// Serves <paramref name="connection"/> (ttrpc until it ends, draining once <paramref name="drain"/> is
    /// cancelled), or hands it to Kestrel: true then, and Kestrel owns it; false when the caller must dispose it.
    /// </summary>
    public async Task<bool> OnConnectionAsync(ConnectionContext connection, CancellationToken drain)
    {
        WireProtocol? protocol;
        try
        {
            protocol = await ProtocolSniffer.DetectAsync(connection.Transport.Input, connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested)
        {
            // The transport saw the peer go (a serial port whose host end is away reads end of stream at once).
            protocol = null;
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException)
        {
            logger.LogDebug("{Connection}: gone before its first byte: {Error}", connection.ConnectionId, e.Message);
            return false;
        }
        switch (protocol)
        {
            case WireProtocol.Grpc:
                if (await grpc.ServeAsync(connection).ConfigureAwait(false))
                {
                    return true;
                }
                logger.LogDebug("{Connection}: no gRPC server to take it, closing it", connection.ConnectionId);
                return false;
            case WireProtocol.Ttrpc:
                await ttrpc().ServeAsync(connection, drain).ConfigureAwait(false);
                return false;
            default:
                logger.LogDebug("{Connection}: closed before its first byte", connection.ConnectionId);
                return false;
        }
    }
}
