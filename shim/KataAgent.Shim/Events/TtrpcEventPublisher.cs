using System.Net.Sockets;
using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Events;

/// <summary>
/// Forwards events to containerd's ttrpc events service (<c>containerd.services.events.ttrpc.v1.Events/Forward</c>
/// on <c>TTRPC_ADDRESS</c>), as containerd's shim publisher does: a 5 s timeout per Forward, a reconnect when the
/// connection has closed, up to 5 retries with a growing wait, then the event is given up and logged.
/// </summary>
/// <remarks>
/// Unlike containerd's publisher, which sends a failed event to the back of its queue, one forwarder sends the
/// events in the order they were published and retries the one at the head in place: containerd's order rules
/// (create before start before exit before delete) hold even across a reconnect. <see cref="Publish"/> only
/// stamps and queues (the queue is unbounded, so a burst loses nothing and never blocks a task RPC).
/// </remarks>
internal sealed class TtrpcEventPublisher : IEventPublisher, IAsyncDisposable
{
    /// <summary>containerd's ttrpc events service.</summary>
    public const string ServiceName = "containerd.services.events.ttrpc.v1.Events";

    /// <summary>The ttrpc metadata key containerd's clients carry the namespace in (<c>namespaces/ttrpc.go</c>).</summary>
    public const string NamespaceMetadataKey = "containerd-namespace-ttrpc";

    private readonly string _path;
    private readonly string _namespace;
    private readonly TtrpcEventPublisherOptions _options;
    private readonly Channel<Envelope> _queue = Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _forwarding;
    private TtrpcClient? _client;

    /// <summary>Starts forwarding to <paramref name="address"/> (a socket path, with or without <c>unix://</c>).</summary>
    public TtrpcEventPublisher(string address, string ns, TtrpcEventPublisherOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        ArgumentException.ThrowIfNullOrEmpty(ns);
        _path = address.StartsWith("unix://", StringComparison.Ordinal) ? address["unix://".Length..] : address;
        _namespace = ns;
        _options = options ?? new TtrpcEventPublisherOptions();
        _forwarding = Task.Run(ForwardAllAsync);
    }

    /// <summary>Events forwarded and acknowledged so far.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Events given up after every retry failed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private long _forwarded;
    private long _dropped;

    /// <inheritdoc/>
    public void Publish(IMessage @event)
    {
        var envelope = EventEnvelopes.Wrap(@event, _namespace, DateTime.UtcNow);
        if (!_queue.Writer.TryWrite(envelope))
            ShimLog.Warn($"event {envelope.Topic} published after the publisher was closed; not forwarded");
    }

    /// <summary>Stops taking events, forwards what is queued for up to the flush timeout, then closes.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _forwarding.WaitAsync(_options.FlushTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ShimLog.Warn($"events not forwarded within {_options.FlushTimeout.TotalSeconds:0.#} s of shutdown are dropped");
        }
        await _abort.CancelAsync().ConfigureAwait(false);
        await _forwarding.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_client is not null)
            await _client.DisposeAsync().ConfigureAwait(false);
        _abort.Dispose();
    }

    private async Task ForwardAllAsync()
    {
        try
        {
            await foreach (var envelope in _queue.Reader.ReadAllAsync(_abort.Token).ConfigureAwait(false))
                await ForwardWithRetriesAsync(envelope).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
        }
    }

    private async Task ForwardWithRetriesAsync(Envelope envelope)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await ForwardAsync(envelope).ConfigureAwait(false);
                Interlocked.Increment(ref _forwarded);
                return;
            }
            catch (Exception e) when (e is RpcException or IOException or SocketException or TimeoutException
                                      || (e is OperationCanceledException && !_abort.IsCancellationRequested))
            {
                if (attempt >= _options.MaxRetries)
                {
                    ShimLog.Error($"evicting {envelope.Topic} from queue because of retry count", e);
                    Interlocked.Increment(ref _dropped);
                    return;
                }
                ShimLog.Warn($"forward event {envelope.Topic}", e);
                await Task.Delay(_options.RetryDelay * (attempt + 1), _abort.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One Forward; on a closed connection (Go's <c>ErrClosed</c>), once more on a fresh one.</summary>
    private async Task ForwardAsync(Envelope envelope)
    {
        var request = new ForwardRequest { Envelope = envelope };
        try
        {
            await CallAsync(request).ConfigureAwait(false);
        }
        catch (RpcException e) when (IsClosed(e))
        {
            await DropClientAsync().ConfigureAwait(false);
            await CallAsync(request).ConfigureAwait(false);
        }
    }

    private async Task CallAsync(ForwardRequest request)
    {
        var client = await ClientAsync().ConfigureAwait(false);
        try
        {
            await client.CallAsync(ServiceName, "Forward", request, Empty.Parser, _options.ForwardTimeout,
                [KeyValuePair.Create(NamespaceMetadataKey, _namespace)], _abort.Token).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded)
        {
            // A connection that stops answering is not trusted again: the next try dials afresh.
            await DropClientAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static bool IsClosed(RpcException e) => e.StatusCode == StatusCode.Unavailable;

    private async Task<TtrpcClient> ClientAsync()
    {
        if (_client is { Completion.IsCompleted: false } live)
            return live;
        await DropClientAsync().ConfigureAwait(false);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            timeout.CancelAfter(_options.ForwardTimeout);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_path), timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _client = new TtrpcClient(new NetworkStream(socket, ownsSocket: true));
        return _client;
    }

    private async Task DropClientAsync()
    {
        if (_client is { } client)
        {
            _client = null;
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
