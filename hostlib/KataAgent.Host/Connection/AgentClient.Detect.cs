using System.Diagnostics;
using Grpc.Core;
using KataAgent.Host.Transport;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

public sealed partial class AgentClient
{
    private const string ClosedDetail = "ttrpc: closed";

    /// <summary>
    /// <see cref="AgentProtocol.Detect"/>: a ttrpc Health.Check on a fresh connection. Any ttrpc answer (whatever its
    /// status) is a ttrpc agent, and that connection is kept; the peer closing the connection, or sending bytes that
    /// are not ttrpc frames, is a gRPC server refusing a connection without the HTTP/2 preface. No answer within the
    /// attempt's time is retried, as an agent not up yet would be; a transport that cannot connect is retried too.
    /// </summary>
    /// <remarks>Serving is true when the probe's own answer was SERVING: the connection needs no second Check.</remarks>
    private static async Task<(AgentProtocol Protocol, TtrpcClient? Probe, bool Serving)> DetectProtocolAsync(
        IAgentConnector connector, AgentClientOptions options, Stopwatch clock, CancellationToken cancellationToken)
    {
        int attempts = 0;
        Exception? lastError = null;
        while (clock.Elapsed < options.ConnectTimeout)
        {
            attempts++;
            TimeSpan remaining = options.ConnectTimeout - clock.Elapsed;
            TimeSpan attemptTimeout = remaining < options.CheckAttemptTimeout ? remaining : options.CheckAttemptTimeout;
            Stream? stream = null;
            try
            {
                stream = await connector.ConnectAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                lastError = e;
                if (connector.IsPermanent(e))
                {
                    break;
                }
            }
            if (stream is not null)
            {
                var client = new TtrpcClient(stream);
                try
                {
                    var response = await client.CallAsync("grpc.Health", "Check", new CheckRequest(), HealthCheckResponse.Parser, attemptTimeout,
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                    return (AgentProtocol.Ttrpc, client, response.Status == HealthCheckResponse.Types.ServingStatus.Serving);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.Detail == ClosedDetail)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                    return (AgentProtocol.Grpc, null, false);
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Cancelled)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    lastError = new TimeoutException($"no answer to a ttrpc Health.Check within {attemptTimeout.TotalMilliseconds:0} ms", e);
                }
                catch (RpcException)
                {
                    return (AgentProtocol.Ttrpc, client, false); // a ttrpc status is a ttrpc answer
                }
            }
            remaining = options.ConnectTimeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }
            await Task.Delay(remaining < options.RetryInterval ? remaining : options.RetryInterval, cancellationToken).ConfigureAwait(false);
        }
        throw new AgentConnectException(connector.Description, attempts, clock.Elapsed, lastError);
    }
}
