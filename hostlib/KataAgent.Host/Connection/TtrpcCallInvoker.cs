using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Host;

/// <summary>
/// A gRPC <see cref="CallInvoker"/> that carries every call over ttrpc, so gRPC's generated clients
/// (<c>AgentService.AgentServiceClient</c>, <c>Health.HealthClient</c>, <c>Streaming.StreamingClient</c>) and
/// interceptors run unchanged against a ttrpc agent such as Kata's.
/// </summary>
/// <remarks>
/// The method's full service name and name become the envelope's service and method; the deadline becomes
/// <c>timeout_nano</c> (and ends the call locally too); text headers become ttrpc metadata (binary ones are
/// dropped: ttrpc metadata is text); the token or disposing the call cancels it. Failures are
/// <see cref="RpcException"/>s with the agent's status, as over gRPC. Streaming methods map to ttrpc 1.2 streams.
/// ttrpc has no response headers or trailers: both are empty.
/// </remarks>
public sealed class TtrpcCallInvoker : CallInvoker
{
    private readonly Func<CancellationToken, ValueTask<TtrpcClient>> _client;

    /// <summary>Creates an invoker whose calls all go over <paramref name="client"/>.</summary>
    public TtrpcCallInvoker(TtrpcClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = _ => ValueTask.FromResult(client);
    }

    /// <summary>Creates an invoker over whatever client <paramref name="client"/> gives (one that reconnects).</summary>
    internal TtrpcCallInvoker(Func<CancellationToken, ValueTask<TtrpcClient>> client)
    {
        _client = client;
    }

    /// <inheritdoc />
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        using var call = AsyncUnaryCall(method, host, options, request);
        return call.ResponseAsync.GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new TtrpcCall(options);
        var payload = Encode(method.RequestMarshaller, request);
        var response = call.RunAsync(async token =>
        {
            CheckDeadline(call);
            var client = await _client(token).ConfigureAwait(false);
            var reply = await client.CallRawAsync(method.ServiceName, method.Name, payload, call.Timeout, call.Metadata, token).ConfigureAwait(false);
            var decoded = call.Decode(method.ResponseMarshaller, reply.Memory);
            call.Complete(Status.DefaultSuccess);
            return decoded;
        });
        return new AsyncUnaryCall<TResponse>(response, NoHeaders(response), call.GetStatus, TtrpcCall.GetTrailers, call.Dispose);
    }

    /// <inheritdoc />
    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new TtrpcCall(options);
        var stream = Open(call, method.ServiceName, method.Name, TtrpcStreamKind.ServerStreaming, Encode(method.RequestMarshaller, request));
        var reader = new TtrpcResponseReader<TResponse>(call, stream, method.ResponseMarshaller);
        return new AsyncServerStreamingCall<TResponse>(reader, NoHeaders(stream), call.GetStatus, TtrpcCall.GetTrailers, () => Dispose(call, stream));
    }

    /// <inheritdoc />
    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new TtrpcCall(options);
        var stream = Open(call, method.ServiceName, method.Name, TtrpcStreamKind.ClientStreaming, null);
        var writer = new TtrpcRequestWriter<TRequest>(call, stream, method.RequestMarshaller);
        var response = call.RunAsync(async token =>
        {
            var opened = await stream.ConfigureAwait(false);
            var reply = await opened.ReadAsync(token).ConfigureAwait(false)
                ?? throw new RpcException(new Status(StatusCode.Internal, "ttrpc: the stream ended without a response"));
            var decoded = call.Decode(method.ResponseMarshaller, reply);
            call.Complete(Status.DefaultSuccess);
            return decoded;
        });
        return new AsyncClientStreamingCall<TRequest, TResponse>(writer, response, NoHeaders(stream), call.GetStatus, TtrpcCall.GetTrailers, () => Dispose(call, stream));
    }

    /// <inheritdoc />
    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new TtrpcCall(options);
        var stream = Open(call, method.ServiceName, method.Name, TtrpcStreamKind.Duplex, null);
        var writer = new TtrpcRequestWriter<TRequest>(call, stream, method.RequestMarshaller);
        var reader = new TtrpcResponseReader<TResponse>(call, stream, method.ResponseMarshaller);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(writer, reader, NoHeaders(stream), call.GetStatus, TtrpcCall.GetTrailers, () => Dispose(call, stream));
    }

    private Task<TtrpcClientStream> Open(TtrpcCall call, string service, string method, TtrpcStreamKind kind, ByteString? request)
    {
        var opened = call.RunAsync(async token =>
        {
            CheckDeadline(call);
            var client = await _client(token).ConfigureAwait(false);
            return await client.OpenStreamAsync(service, method, kind, request, call.Timeout, call.Metadata, token).ConfigureAwait(false);
        });
        // Observed here: a failure to open reaches the caller through the reader, the writer or the response.
        opened.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return opened;
    }

    private static void CheckDeadline(TtrpcCall call)
    {
        if (call.Timeout is { } left && left <= TimeSpan.Zero)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "context deadline exceeded"));
        }
    }

    /// <summary>A message's bytes through its (contextual) marshaller.</summary>
    internal static ByteString Encode<T>(Marshaller<T> marshaller, T message)
    {
        var context = new TtrpcSerializationContext();
        marshaller.ContextualSerializer(message, context);
        return UnsafeByteOperations.UnsafeWrap(context.Payload);
    }

    /// <summary>ttrpc has no response headers: an empty set once the call has answered (or its failure).</summary>
    private static async Task<Metadata> NoHeaders(Task answered)
    {
        await answered.ConfigureAwait(false);
        return [];
    }

    private static void Dispose(TtrpcCall call, Task<TtrpcClientStream> stream)
    {
        call.Dispose();
        if (stream.IsCompletedSuccessfully)
        {
            // Closes this side if still open and forgets the stream; the disposal does not wait on the peer long.
            _ = stream.Result.DisposeAsync().AsTask();
        }
    }
}
