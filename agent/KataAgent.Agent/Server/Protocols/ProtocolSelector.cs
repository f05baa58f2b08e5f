using KataAgent.Agent.Server.Ttrpc;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Protocols;

/// <summary>
/// Kestrel connection middleware in front of the HTTP/2 server on every listener (vsock, serial, unix, tcp): it
/// reads a connection's first bytes without consuming them (<see cref="ProtocolSniffer"/>) and hands the connection
/// either to HTTP/2 (gRPC) or to the ttrpc front end. Both reach the same service instances, so the two protocols
/// share one core and one error mapping. A connection that ends before its first byte (a serial port whose host
/// end comes and goes) is simply let go, and its transport waits for the next.
/// </summary>
internal sealed class ProtocolSelector(ConnectionDelegate http2, Func<TtrpcFrontEnd> ttrpc, ILogger logger)
{
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        WireProtocol? protocol;
        try
        {
            protocol = await ProtocolSniffer.DetectAsync(connection.Transport.Input, connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or ObjectDisposedException)
        {
            logger.LogDebug("{Connection}: gone before its first byte: {Error}", connection.ConnectionId, e.Message);
            return;
        }
        switch (protocol)
        {
            case WireProtocol.Grpc:
                await http2(connection).ConfigureAwait(false);
                break;
            case WireProtocol.Ttrpc:
                await ttrpc().ServeAsync(connection).ConfigureAwait(false);
                break;
            default:
                logger.LogDebug("{Connection}: closed before its first byte", connection.ConnectionId);
                break;
        }
    }
}
