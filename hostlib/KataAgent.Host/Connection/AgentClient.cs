using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using KataAgent.Host.Transport;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

/// <summary>
/// A connection to one agent: gRPC over HTTP/2, or ttrpc (<see cref="AgentClientOptions.Protocol"/>), over whichever
/// byte stream the address names. Every AgentService RPC is a typed async method (partial files by concern); the generated
/// clients are there too (<see cref="Agent"/>, <see cref="Health"/>) for anything beyond.
/// A typed call that fails throws <see cref="AgentStatusException"/> with the agent's status and message
/// (its <see cref="KataAgentException.Kind"/> is <see cref="KataAgentErrorKind.Connect"/> when the connection
/// broke instead); a cancelled one <see cref="OperationCanceledException"/>. The generated clients are gRPC's
/// own layer and throw its <see cref="RpcException"/>.
/// </summary>
public sealed partial class AgentClient : IAsyncDisposable, IDisposable
{
    private readonly IAgentConnector _connector;
    private readonly AgentClientOptions _options;
    private readonly SocketsHttpHandler? _handler;
    private readonly GrpcChannel? _channel;
    private readonly TtrpcConnection? _ttrpc;
    private readonly CallInvoker _invoker;
    private readonly AgentService.AgentServiceClient _calls;
    private Exception? _lastTransportError;
    private int _transportErrors;

    private AgentClient(IAgentConnector connector, AgentClientOptions options, AgentProtocol protocol, TtrpcClient? probe)
    {
        _connector = connector;
        _options = options;
        Protocol = protocol;
        if (protocol == AgentProtocol.Ttrpc)
        {
            _ttrpc = new TtrpcConnection(OpenTransportAsync, probe);
            _invoker = new TtrpcCallInvoker(_ttrpc.GetClientAsync);
        }
        else
        {
            _handler = new SocketsHttpHandler
            {
                ConnectCallback = (_, cancellationToken) => OpenTransportAsync(cancellationToken),
                // One long-lived HTTP/2 connection; a virtio-serial port cannot carry a second one.
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
                EnableMultipleHttp2Connections = false,
            };
            _channel = GrpcChannel.ForAddress("http://kata-agent", new GrpcChannelOptions
            {
                HttpHandler = _handler,
                DisposeHttpClient = true,
                MaxReceiveMessageSize = options.MaxReceiveMessageSize,
                MaxSendMessageSize = null,
            });
            // A write that crosses the agent's answer (a refused Attach) must not turn that answer into CANCELLED.
            _invoker = new AnsweredCallInvoker(_channel.CreateCallInvoker());
        }
        Agent = new AgentService.AgentServiceClient(_invoker);
        // The typed calls' one way out: every failure is translated there, not in each wrapper.
        _calls = new AgentService.AgentServiceClient(_invoker.Intercept(new AgentStatusInterceptor()));
        Health = new Health.HealthClient(_invoker);
    }

    /// <summary>What this client is connected to (the address as written, or a custom description).</summary>
    public string Address => _connector.Description;

    /// <summary>The protocol this client speaks: <see cref="AgentProtocol.Grpc"/> or <see cref="AgentProtocol.Ttrpc"/>
    /// (never <see cref="AgentProtocol.Detect"/>: detection has decided by the time the client exists).</summary>
    public AgentProtocol Protocol { get; }

    /// <summary>The generated grpc.AgentService client on this connection.</summary>
    public AgentService.AgentServiceClient Agent { get; }

    /// <summary>The generated grpc.Health client on this connection.</summary>
    public Health.HealthClient Health { get; }

    /// <summary>The call invoker under the generated clients, for extension services (kataagent.v1): a gRPC
    /// channel's (where a message written to a call the agent has already answered is dropped, and the answer's status
    /// is what the call reports, never a bare CANCELLED), or a <see cref="TtrpcCallInvoker"/>.</summary>
    public CallInvoker CallInvoker => _invoker;

    /// <summary>
    /// Connects to the agent at <paramref name="address"/> (vsock://, hvsock://, serial:///PATH,
    /// unix://, tcp://) in <see cref="AgentClientOptions.Protocol"/>, retrying until it answers Health.Check or
    /// <see cref="AgentClientOptions.ConnectTimeout"/> passes.
    /// </summary>
    /// <exception cref="FormatException">The address is malformed.</exception>
    /// <exception cref="ArgumentException">The address cannot be reached from the host (e.g. serial://NAME).</exception>
    /// <exception cref="AgentConnectException">The agent did not answer in time.</exception>
    public static Task<AgentClient> ConnectAsync(string address, AgentClientOptions? options = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(AgentAddress.Parse(address), options, cancellationToken);

    /// <inheritdoc cref="ConnectAsync(string, AgentClientOptions?, CancellationToken)"/>
    public static Task<AgentClient> ConnectAsync(AgentAddress address, AgentClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new AgentClientOptions();
        return ConnectAsync(AgentConnectors.For(address, options), options, cancellationToken);
    }

    /// <summary>Connects over streams from <paramref name="connector"/> (custom transports, tests).</summary>
    public static async Task<AgentClient> ConnectAsync(IAgentConnector connector, AgentClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connector);
        options ??= new AgentClientOptions();
        var clock = Stopwatch.StartNew();
        var (protocol, probe, serving) = options.Protocol == AgentProtocol.Detect
            ? await DetectProtocolAsync(connector, options, clock, cancellationToken).ConfigureAwait(false)
            : (options.Protocol, null, false);
        var client = new AgentClient(connector, options, protocol, probe);
        try
        {
            // Detection's Check has already said SERVING on this very connection: a second one would only cost a round trip.
            if (!serving)
            {
                await client.WaitUntilServingAsync(clock, cancellationToken).ConfigureAwait(false);
            }
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose()
    {
        _channel?.Dispose();
        _handler?.Dispose();
        _ttrpc?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Closes the connection.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task WaitUntilServingAsync(Stopwatch clock, CancellationToken cancellationToken)
    {
        int attempts = 0;
        Exception? lastError = null;
        while (clock.Elapsed < _options.ConnectTimeout)
        {
            attempts++;
            TimeSpan remaining = _options.ConnectTimeout - clock.Elapsed;
            TimeSpan attemptTimeout = remaining < _options.CheckAttemptTimeout ? remaining : _options.CheckAttemptTimeout;
            int transportErrorsBefore = Volatile.Read(ref _transportErrors);
            try
            {
                var response = await Health.CheckAsync(new CheckRequest(), deadline: DateTime.UtcNow + attemptTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (response.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
                lastError = new InvalidOperationException($"the agent answered Check with {response.Status}");
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                bool transportFailed = Volatile.Read(ref _transportErrors) != transportErrorsBefore;
                // "Error connecting" or a deadline says less than why the stream could not be
                // opened; keep the transport's own reason, even from an earlier attempt.
                lastError = _lastTransportError ?? e;
                if (transportFailed && _connector.IsPermanent(_lastTransportError!))
                {
                    break;
                }
                if (!transportFailed && e.StatusCode is not (StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown))
                {
                    // Something answered with a definite status: retrying will not change it.
                    break;
                }
            }
            remaining = _options.ConnectTimeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }
            await Task.Delay(remaining < _options.RetryInterval ? remaining : _options.RetryInterval, cancellationToken).ConfigureAwait(false);
        }
        throw new AgentConnectException(_connector.Description, attempts, clock.Elapsed, lastError);
    }

    /// <summary>Opens a byte stream to the agent for either protocol, remembering why it failed if it did.</summary>
    private async ValueTask<Stream> OpenTransportAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _connector.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _lastTransportError = e;
            Interlocked.Increment(ref _transportErrors);
            throw;
        }
    }

    /// <summary>Call options for an ordinary call: the default deadline plus the caller's token.</summary>
    private CallOptions Call(CancellationToken cancellationToken) =>
        new(deadline: _options.DefaultCallTimeout is { } timeout ? DateTime.UtcNow + timeout : null, cancellationToken: cancellationToken);

    /// <summary>Call options for a long poll (WaitProcess, ReadStdout, GetOOMEvent): no deadline.</summary>
    private static CallOptions LongPoll(CancellationToken cancellationToken) => new(cancellationToken: cancellationToken);
}
