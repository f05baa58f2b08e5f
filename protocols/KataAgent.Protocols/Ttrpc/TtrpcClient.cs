using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The client side of ttrpc over any duplex <see cref="Stream"/>: many unary calls and ttrpc 1.2 streams share one
/// connection, each on its own odd stream id (1, 3, 5, ...) and each awaiting its own answer, in whatever order the
/// server sends them.
/// </summary>
/// <remarks>
/// Failures are <see cref="RpcException"/>s, as with a gRPC channel: the server's status; DeadlineExceeded when the
/// call's timeout passes; Cancelled when its token fires; Unavailable "ttrpc: closed" (Go's <c>ErrClosed</c> text)
/// for every pending and later call once the connection breaks.
/// </remarks>
public sealed partial class TtrpcClient : IAsyncDisposable
{
    private const string ClosedMessage = "ttrpc: closed";

    private readonly Stream connection;
    private readonly TtrpcFrameWriter writer;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Response>> pending = new();
    private readonly CancellationTokenSource closing = new();
    private readonly SemaphoreSlim requestGate = new(1, 1);
    private readonly Task receiving;
    private long nextStreamId = 1;
    private volatile bool closed;

    /// <summary>Starts a client on a connected stream; the client owns it from now on and disposes it.</summary>
    public TtrpcClient(Stream connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        this.connection = connection;
        writer = new TtrpcFrameWriter(connection, closing.Token);
        receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>Completes when the connection has ended (closed by either side, or broken).</summary>
    public Task Completion => receiving;

    /// <summary>Calls a unary method with typed messages.</summary>
    /// <param name="service">The full protobuf service name, for example <c>grpc.AgentService</c>.</param>
    /// <param name="method">The method name.</param>
    /// <param name="request">The request message.</param>
    /// <param name="parser">The reply's parser.</param>
    /// <param name="timeout">How long to wait; sent to the server as <c>timeout_nano</c>. Null waits without a deadline.</param>
    /// <param name="metadata">Request metadata (keys are sent lower-cased, as Go does).</param>
    /// <param name="cancellationToken">Stops waiting for this call only.</param>
    public async Task<TResponse> CallAsync<TResponse>(
        string service, string method, IMessage request, MessageParser<TResponse> parser, TimeSpan? timeout = null,
        IEnumerable<KeyValuePair<string, string>>? metadata = null, CancellationToken cancellationToken = default)
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parser);
        ByteString reply = await CallRawAsync(service, method, request.ToByteString(), timeout, metadata, cancellationToken)
            .ConfigureAwait(false);
        try
        {
            return parser.ParseFrom(reply);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Internal, "ttrpc: error unmarshalling payload: " + e.Message));
        }
    }

    /// <summary>Calls a unary method with an encoded request; returns the encoded reply.</summary>
    /// <inheritdoc cref="CallAsync{TResponse}" path="/param"/>
    public async Task<ByteString> CallRawAsync(
        string service, string method, ByteString payload, TimeSpan? timeout = null,
        IEnumerable<KeyValuePair<string, string>>? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(payload);
        if (timeout is { } t && t <= TimeSpan.Zero)
            throw new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "context deadline exceeded"));

        var request = Envelope(service, method, payload, timeout, metadata);
        uint? streamId = null;
        var answer = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } wait)
            deadline.CancelAfter(wait);
        try
        {
            await SendRequestAsync(request, TtrpcFlags.None, id =>
            {
                streamId = id;
                pending[id] = answer;
            }, deadline.Token).ConfigureAwait(false);
            Response response = await answer.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
            if (response.Status is { Code: not 0 } status)
                throw new RpcException(new Grpc.Core.Status((StatusCode)status.Code, status.Message));
            return response.Payload;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw cancellationToken.IsCancellationRequested
                ? new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "context canceled"))
                : new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, "context deadline exceeded"));
        }
        finally
        {
            if (streamId is { } id)
                pending.TryRemove(id, out _);
        }
    }

    private static Request Envelope(string service, string method, ByteString payload, TimeSpan? timeout,
        IEnumerable<KeyValuePair<string, string>>? metadata)
    {
        var request = new Request { Service = service, Method = method, Payload = payload };
        if (timeout is { } limit)
            request.TimeoutNano = checked((long)(limit.Ticks * TimeSpan.NanosecondsPerTick));
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
                request.Metadata.Add(new KeyValue { Key = key.ToLowerInvariant(), Value = value });
        }
        return request;
    }

    /// <summary>
    /// Takes the next stream id, lets <paramref name="register"/> file the call under it, and sends its Request, all
    /// under one lock: ids must reach the server in increasing order (since ttrpc 1.2 it refuses one not above the
    /// last it saw), so two calls may not take ids in one order and send in the other.
    /// </summary>
    private async Task SendRequestAsync(Request request, TtrpcFlags flags, Action<uint> register, CancellationToken cancellationToken)
    {
        byte[] envelope = request.ToByteArray();
        await requestGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            uint streamId = unchecked((uint)nextStreamId);
            nextStreamId += 2;
            // Registered before the check, so a connection that breaks in between still fails this call.
            register(streamId);
            await SendAsync(new TtrpcFrame(streamId, TtrpcMessageType.Request, flags, envelope), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            requestGate.Release();
        }
    }

    /// <summary>Closes the connection; pending calls fail with Unavailable "ttrpc: closed".</summary>
    public async ValueTask DisposeAsync()
    {
        closed = true;
        await closing.CancelAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
        try
        {
            await receiving.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // expected: DisposeAsync stopped the loop
        }
        closing.Dispose();
    }

    private async Task ReceiveAsync()
    {
        var reader = new TtrpcFrameReader(connection);
        Exception? cause = null;
        try
        {
            while (await reader.ReadAsync(closing.Token).ConfigureAwait(false) is { } frame)
            {
                if (frame.Type != TtrpcMessageType.Response || !pending.TryGetValue(frame.StreamId, out var answer))
                {
                    // Go logs and drops a message on a stream it does not know ("received message on inactive stream").
                    if (frame.Type is TtrpcMessageType.Response or TtrpcMessageType.Data
                        && streams.TryGetValue(frame.StreamId, out var stream))
                    {
                        await stream.ReceiveAsync(frame, StreamFullTimeout, closing.Token).ConfigureAwait(false);
                    }
                    continue;
                }
                Response response;
                try
                {
                    response = Response.Parser.ParseFrom(frame.Payload.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    answer.TrySetException(new RpcException(new Grpc.Core.Status(StatusCode.Internal,
                        "ttrpc: malformed response envelope: " + e.Message)));
                    continue;
                }
                answer.TrySetResult(response);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            cause = e;
        }
        finally
        {
            closed = true;
            foreach (var answer in pending.Values)
                answer.TrySetException(Closed(cause));
            foreach (var stream in streams.Values)
                stream.Fail(Closed(cause));
        }
    }

    private static RpcException Closed(Exception? cause) =>
        new(new Grpc.Core.Status(StatusCode.Unavailable, ClosedMessage, cause));
}
