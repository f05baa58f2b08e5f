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
/// answers DEADLINE_EXCEEDED.
/// </summary>
internal sealed class TtrpcServiceBinder(TtrpcServer server, int maxReceiveMessageSize, ILogger logger) : ServiceBinderBase
{
    /// <summary>What Grpc.AspNetCore answers a request over its receive limit with.</summary>
    internal const string MessageTooLarge = "Received message exceeds the maximum configured message size.";

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        var bound = Require(method, handler);
        var parsed = ParsedRequestServiceBinder<object>.Parsed(method, logger);
        Register(method, async (payload, call, context) =>
        {
            TRequest request = Parse(parsed, payload);
            return Serialize(method, await bound(request, context).ConfigureAwait(false));
        });
    }

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
        NotServed(method);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
        NotServed(method);

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
        NotServed(method);

    /// <summary>
    /// Registers <paramref name="handler"/> for <paramref name="method"/> behind the checks and the error mapping
    /// every ttrpc call shares, counted as running on its connection while it runs.
    /// </summary>
    private void Register(IMethod method, Func<ReadOnlyMemory<byte>, TtrpcCallContext, ServerCallContext, Task<ByteString>> handler)
    {
        string rpc = method.FullName.TrimStart('/');
        server.AddMethod(method.ServiceName, method.Name, async (payload, call) =>
        {
            var connection = TtrpcConnectionState.Current;
            connection?.CallStarted();
            try
            {
                if (payload.Length > maxReceiveMessageSize)
                {
                    throw new RpcException(new Status(StatusCode.ResourceExhausted, MessageTooLarge));
                }
                var context = new TtrpcServerCallContext(method.FullName, call, connection?.Peer ?? "ttrpc");
                return await handler(payload, call, context).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (call.CancellationToken.IsCancellationRequested)
            {
                // The server answers DEADLINE_EXCEEDED, or nothing when the connection is gone.
                throw;
            }
            catch (Exception e)
            {
                var status = AgentErrorMapping.ToStatus(e, rpc, logger);
                throw new RpcException(new Status(status.Code, status.Message));
            }
            finally
            {
                connection?.CallEnded();
            }
        });
    }

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

    /// <summary>A streaming method: a ttrpc client calling it gets the unknown-method answer.</summary>
    private void NotServed(IMethod method) =>
        logger.LogDebug("{Rpc}: streaming, not served over ttrpc", method.FullName.TrimStart('/'));

    /// <summary>The handler bound to the service instance; a generated binder passes null only when given no instance.</summary>
    private static T Require<T>(IMethod method, T? handler)
        where T : Delegate =>
        handler ?? throw new InvalidOperationException($"{method.FullName}: BindService was called without a service instance");
}
