using System.Collections.Concurrent;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Tests.Shim;

/// <summary>
/// Plays containerd's ttrpc events service (<c>containerd.services.events.ttrpc.v1.Events/Forward</c>) on a unix
/// socket, checking envelopes as containerd's exchange does and recording what it accepted, in arrival order.
/// </summary>
internal sealed class FakeContainerdEvents : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _connections = [];
    private readonly Task _accepting;
    private readonly Lock _gate = new();
    private readonly List<(Envelope Envelope, IReadOnlyList<KeyValuePair<string, string>> Metadata)> _received = [];
    private int _attempts;

    public FakeContainerdEvents(string path)
    {
        Path = path;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(16);
        var server = new TtrpcServer();
        server.AddUnaryMethod("containerd.services.events.ttrpc.v1.Events", "Forward", ForwardRequest.Parser, ForwardAsync);
        _accepting = Task.Run(() => AcceptAsync(server));
    }

    public string Path { get; }

    /// <summary>Decides each Forward before it is recorded: null accepts, a status refuses.</summary>
    public Func<int, Envelope, Grpc.Core.Status?> Decide { get; set; } = (_, _) => null;

    /// <summary>Forward calls seen, accepted or not.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>Connections accepted so far.</summary>
    public int ConnectionCount => _connections.Count;

    public IReadOnlyList<(Envelope Envelope, IReadOnlyList<KeyValuePair<string, string>> Metadata)> Received
    {
        get
        {
            lock (_gate)
                return [.. _received];
        }
    }

    /// <summary>Waits until <paramref name="count"/> events were accepted.</summary>
    public async Task WaitForAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Received.Count < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Received.Count} of {count} events arrived within {timeout}");
            await Task.Delay(10);
        }
    }

    /// <summary>Closes every connection open now (containerd restarting its side); the listener stays.</summary>
    public void DropConnections()
    {
        foreach (var connection in _connections)
        {
            try
            {
                connection.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
            connection.Dispose();
        }
    }

    private Task<Empty> ForwardAsync(ForwardRequest request, TtrpcCallContext context)
    {
        int attempt = Interlocked.Increment(ref _attempts);
        var envelope = request.Envelope;
        // containerd's exchange refuses these (events/exchange/exchange.go::validateEnvelope).
        if (envelope is null || envelope.Namespace.Length == 0 || !envelope.Topic.StartsWith('/') || envelope.Timestamp is null
            || (envelope.Timestamp.Seconds == 0 && envelope.Timestamp.Nanos == 0) || envelope.Event is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "envelope refused"));
        }
        if (Decide(attempt, envelope) is { } refusal)
            throw new RpcException(refusal);
        lock (_gate)
            _received.Add((envelope, context.Metadata));
        return Task.FromResult(new Empty());
    }

    private async Task AcceptAsync(TtrpcServer server)
    {
        var serving = new List<Task>();
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }
            _connections.Add(connection);
            serving.Add(Task.Run(async () =>
            {
                try
                {
                    await using var stream = new NetworkStream(connection, ownsSocket: true);
                    await server.ServeConnectionAsync(stream, cancellationToken: _stop.Token);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }));
        }
        await Task.WhenAll(serving);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        DropConnections();
        await _accepting;
        File.Delete(Path);
    }
}
