using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// The server side of ttrpc over any duplex <see cref="Stream"/>: unary calls and ttrpc 1.2 streams (client-streaming,
/// server-streaming, duplex). Each request runs concurrently in its own task and its answer is written when it is
/// ready, so a slow call or stream never blocks another.
/// </summary>
/// <remarks>
/// Register every method before serving. Answers follow Go's ttrpc (<c>services.go</c>, <c>server.go</c>, <c>stream.go</c>):
/// an unknown service is Unimplemented "service X", an unknown method Unimplemented "method X" (or Rust's answer, see
/// <see cref="UnknownMethods"/>). A method's registration, not the request's flags, decides whether it is unary or
/// streaming, as in Go.
/// </remarks>
public sealed partial class TtrpcServer
{
    private readonly ConcurrentDictionary<string, TtrpcServerMethod> methods = new(StringComparer.Ordinal);
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

    /// <summary>How a request for a service or method not registered here is answered. Default: Go's answer.</summary>
    public TtrpcUnknownMethodStyle UnknownMethods { get; init; } = TtrpcUnknownMethodStyle.Go;

    /// <summary>
    /// How long the connection's read loop waits for a stream's reader to make room in its full receive buffer before
    /// it gives that stream up (Go's <c>streamFullTimeout</c> on the server: 1 s).
    /// </summary>
    internal TimeSpan StreamFullTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Messages a stream with a streaming client buffers before its reader takes them (Go: 64).</summary>
    internal const int StreamBufferCapacity = 64;

    /// <summary>Registers a unary method that takes and returns encoded messages.</summary>
    public void AddMethod(string service, string method, Func<ReadOnlyMemory<byte>, TtrpcCallContext, Task<ByteString>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Register(service, method, TtrpcServerMethod.ForUnary(handler));
    }

    /// <summary>Registers a ttrpc 1.2 streaming method that takes and returns encoded messages.</summary>
    /// <param name="service">The full protobuf service name.</param>
    /// <param name="method">The method name.</param>
    /// <param name="kind">Which sides stream.</param>
    /// <param name="handler">
    /// Serves one stream. What it returns ends the stream: for <see cref="TtrpcStreamKind.ClientStreaming"/> the
    /// Response's payload; for <see cref="TtrpcStreamKind.ServerStreaming"/> and <see cref="TtrpcStreamKind.Duplex"/>
    /// the payload of the final <c>Data[RemoteClosed]</c> frame, or null for <c>Data[RemoteClosed|NoData]</c> (no last
    /// message). A failure is answered with a Response carrying the status the server's error mapping gives.
    /// </param>
    public void AddStreamingMethod(
        string service, string method, TtrpcStreamKind kind, Func<TtrpcServerStream, TtrpcCallContext, Task<ByteString?>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a ttrpc stream kind");
        Register(service, method, TtrpcServerMethod.ForStream(kind, handler));
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

    private void Register(string service, string method, TtrpcServerMethod entry)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (!methods.TryAdd(service + "/" + method, entry))
            throw new InvalidOperationException($"ttrpc method {service}/{method} is registered twice");
        services[service] = true;
    }

    /// <summary>The method a request names, or the refusal this server's style gives for a missing one.</summary>
    private TtrpcServerMethod? Find(Request request, out Grpc.Core.Status refusal)
    {
        refusal = default;
        bool knownService = services.ContainsKey(request.Service);
        if (knownService && methods.TryGetValue(request.Service + "/" + request.Method, out var found))
            return found;
        refusal = UnknownMethods switch
        {
            // ttrpc-rust looks the full path up in one table, so a missing service and a missing method read alike.
            TtrpcUnknownMethodStyle.Rust => new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"/{request.Service}/{request.Method} does not exist"),
            _ when !knownService => new Grpc.Core.Status(StatusCode.Unimplemented, "service " + request.Service),
            _ => new Grpc.Core.Status(StatusCode.Unimplemented, "method " + request.Method),
        };
        return null;
    }

    private static Grpc.Core.Status DefaultMapError(Exception exception) => exception switch
    {
        RpcException rpc => rpc.Status,
        _ => new Grpc.Core.Status(StatusCode.Unknown, exception.Message),
    };
}
