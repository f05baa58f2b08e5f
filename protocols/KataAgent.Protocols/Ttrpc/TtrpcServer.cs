using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The server side of ttrpc over any duplex <see cref="Stream"/>: each request runs concurrently in its own task and
/// its response is written when it completes, so a slow call never blocks another. Unary calls only: a streaming
/// request (ttrpc 1.2 flags, data frames) is answered with a status and the streaming half is left for later.
/// </summary>
/// <remarks>
/// Register every method before serving. Answers follow Go's ttrpc (<c>services.go</c>, <c>server.go</c>): an unknown
/// service is Unimplemented "service X", an unknown method Unimplemented "method X".
/// </remarks>
public sealed partial class TtrpcServer
{
    private readonly ConcurrentDictionary<string, Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>>> methods =
        new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> services = new(StringComparer.Ordinal);
    private readonly Func<Exception, Grpc.Core.Status> mapError;

    /// <summary>Creates a server with no methods.</summary>
    /// <param name="mapError">
    /// Turns a handler's failure into the status the caller gets. Null keeps an <see cref="RpcException"/>'s status
    /// and answers anything else with Unknown and the exception's message (Go's fallback).
    /// </param>
    public TtrpcServer(Func<Exception, Grpc.Core.Status>? mapError = null)
    {
        this.mapError = mapError ?? DefaultMapError;
    }

    /// <summary>Registers a unary method that takes and returns encoded messages.</summary>
    public void AddMethod(string service, string method, Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(handler);
        if (!methods.TryAdd(service + "/" + method, handler))
            throw new InvalidOperationException($"ttrpc method {service}/{method} is registered twice");
        services[service] = true;
    }

    /// <summary>Registers a unary method with typed messages.</summary>
    public void AddUnaryMethod<TRequest, TResponse>(
        string service, string method, MessageParser<TRequest> parser, Func<TRequest, TtrpcCallContext, Task<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage
    {
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(handler);
        AddMethod(service, method, async (payload, context) =>
        {
            TRequest request;
            try
            {
                request = parser.ParseFrom(payload.Span);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.Internal, "ttrpc: error unmarshalling payload: " + e.Message));
            }
            TResponse response = await handler(request, context).ConfigureAwait(false)
                ?? throw new RpcException(new Grpc.Core.Status(StatusCode.Unknown, "ttrpc: marshal called with nil"));
            return response.ToByteString();
        });
    }

    private static Grpc.Core.Status DefaultMapError(Exception exception) => exception switch
    {
        RpcException rpc => rpc.Status,
        _ => new Grpc.Core.Status(StatusCode.Unknown, exception.Message),
    };
}
