using Google.Protobuf;
using Grpc.Core;
using KataAgent.Agent.Server.Binding;
using KataAgent.Protocols.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server.Ttrpc;

/// <summary>
/// Receives the methods a generated <c>BindService(ServiceBinderBase, …)</c> names and registers each with a
/// <see cref="TtrpcServer"/> under its protobuf service and method name (<c>grpc.AgentService</c> /
/// <c>CreateContainer</c>): the same service instances and handlers the gRPC front end binds, no reflection.
/// Every call gets what the gRPC path gives it: a request that does not parse is INVALID_ARGUMENT naming the
/// message type (<see cref="ParsedRequestServiceBinder{TService}.Parsed"/>), one over the configured size
/// RESOURCE_EXHAUSTED with Grpc.AspNetCore's message, and any failure the status
/// <see cref="AgentErrorMapping"/> gives it. A deadline from the envelope's <c>timeout_nano</c> that passes
/// answers DEADLINE_EXCEEDED. Streaming methods (kataagent.v1.Streaming/Attach) are ttrpc 1.2 streams of the
/// same kind. Every handler is bound through <see cref="PolicyGate"/>, exactly as in
/// <see cref="ParsedRequestServiceBinder{TService}"/>, so the agent policy sees every call whichever protocol carries it.
/// </summary>
internal sealed class TtrpcServiceBinder(TtrpcServer server, PolicyGate policy, int maxReceiveMessageSize, ILogger logger) : ServiceBinderBase
{
    /// <summary>What Grpc.AspNetCore answers a request over its receive limit with.</summary>
    internal const string MessageTooLarge = "Received message exceeds the maximum configured message size.";

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        var parsed = ParsedRequestServiceBinder<object>.Parsed(method, logger);
        Register(method, async (payload, call, context) =>
        {
            TRequest request = Parse(parsed, payload);
            return Serialize(method, await bound(request, context).ConfigureAwait(false));
        });
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        var parsed = ParsedRequestServiceBinder<object>.Parsed(method, logger);
        RegisterStream(method, TtrpcStreamKind.ClientStreaming, async (stream, call, context) =>
            Serialize(method, await bound(Reader(parsed, stream, call), context).ConfigureAwait(false)));
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        var parsed = ParsedRequestServiceBinder<object>.Parsed(method, logger);
        RegisterStream(method, TtrpcStreamKind.ServerStreaming, async (stream, call, context) =>
        {
            // The request's own payload is the stream's first message (ttrpc delivers it for a unary client).
            var request = await stream.ReadAsync(call.CancellationToken).ConfigureAwait(false) is { } payload
                ? Parse(parsed, payload)
                : throw new RpcException(new Status(StatusCode.InvalidArgument, $"{method.FullName.TrimStart('/')}: the stream carries no request"));
            await bound(request, new TtrpcStreamWriter<TResponse>(stream, call.CancellationToken), context).ConfigureAwait(false);
            return null;
        });
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
    {
        var bound = policy.Wrap(method, Require(method, handler));
        var parsed = ParsedRequestServiceBinder<object>.Parsed(method, logger);
        RegisterStream(method, TtrpcStreamKind.Duplex, async (stream, call, context) =>
        {
            await bound(Reader(parsed, stream, call), new TtrpcStreamWriter<TResponse>(stream, call.CancellationToken), context).ConfigureAwait(false);
            return null;
        });
    }

    /// <summary>
    /// Registers <paramref name="handler"/> for <paramref name="method"/> behind the checks and the error mapping
    /// every ttrpc call shares (<see cref="Guarded{T}"/>).
    /// </summary>
    private void Register(IMethod method, Func<ReadOnlyMemory<byte>, TtrpcCallContext, ServerCallContext, Task<ByteString>> handler) =>
        server.AddMethod(method.ServiceName, method.Name, (payload, call) =>
            Guarded(method, call, context =>
                payload.Length > maxReceiveMessageSize
                    ? throw new RpcException(new Status(StatusCode.ResourceExhausted, MessageTooLarge))
                    : handler(payload, call, context)));

    /// <summary>As <see cref="Register"/>, for a ttrpc 1.2 streaming method of <paramref name="kind"/>.</summary>
    private void RegisterStream(IMethod method, TtrpcStreamKind kind, Func<TtrpcServerStream, TtrpcCallContext, ServerCallContext, Task<ByteString?>> handler) =>
        server.AddStreamingMethod(method.ServiceName, method.Name, kind, (stream, call) =>
            Guarded(method, call, context => handler(stream, call, context)));

    /// <summary>
    /// Runs one call of <paramref name="method"/>: a failure becomes the status <see cref="AgentErrorMapping"/> gives
    /// it, except a cancellation of the call itself (its deadline passed, or the connection is gone), which the
    /// server answers (DEADLINE_EXCEEDED) or drops.
    /// </summary>
    private async Task<T> Guarded<T>(IMethod method, TtrpcCallContext call, Func<ServerCallContext, Task<T>> run)
    {
        var connection = TtrpcConnectionState.Current;
        try
        {
            return await run(new TtrpcServerCallContext(method.FullName, call, connection?.Peer ?? "ttrpc")).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (call.CancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var status = AgentErrorMapping.ToStatus(e, method.FullName.TrimStart('/'), logger);
            throw new RpcException(new Status(status.Code, status.Message));
        }
    }

    /// <summary>The client's messages on <paramref name="stream"/>, each held to the size limit and parsed as a unary request is.</summary>
    private TtrpcStreamReader<TRequest> Reader<TRequest, TResponse>(Method<TRequest, TResponse> parsed, TtrpcServerStream stream, TtrpcCallContext call)
        where TRequest : class
        where TResponse : class =>
        new(stream, payload => payload.Length > maxReceiveMessageSize
            ? throw new RpcException(new Status(StatusCode.ResourceExhausted, MessageTooLarge))
            : Parse(parsed, payload), call.CancellationToken);

    private static TRequest Parse<TRequest, TResponse>(Method<TRequest, TResponse> parsed, ReadOnlyMemory<byte> payload)
        where TRequest : class
        where TResponse : class =>
        parsed.RequestMarshaller.ContextualDeserializer(new ByteArrayDeserializationContext(payload));

    /// <summary>Generated services' responses are protobuf messages; ttrpc carries them encoded as they are.</summary>
    private static ByteString Serialize<TRequest, TResponse>(Method<TRequest, TResponse> method, TResponse response)
        where TRequest : class
        where TResponse : class =>
        response is IMessage message
            ? message.ToByteString()
            : throw new InvalidOperationException($"{method.FullName}: the response {typeof(TResponse).Name} is not a protobuf message");

    /// <summary>The handler bound to the service instance; a generated binder passes null only when given no instance.</summary>
    private static T Require<T>(IMethod method, T? handler)
        where T : Delegate =>
        handler ?? throw new InvalidOperationException($"{method.FullName}: BindService was called without a service instance");
}
