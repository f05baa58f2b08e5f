using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using KataAgent.Protocols.Ttrpc;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// Generated gRPC clients (ours or those from Kata's own protos) over our ttrpc client instead of an HTTP/2
/// channel, for tests: each unary call becomes a ttrpc request named by the method's service and name, its deadline
/// sent as <c>timeout_nano</c>, its headers as metadata. Kata's agent API is unary; streaming calls are refused.
/// </summary>
public sealed class UnaryTtrpcCallInvoker(TtrpcClient client) : CallInvoker, IAsyncDisposable
{
    /// <summary>The ttrpc client underneath.</summary>
    public TtrpcClient Client { get; } = client;

    /// <summary>Connects to the unix socket at <paramref name="path"/>.</summary>
    public static async Task<UnaryTtrpcCallInvoker> ConnectUnixAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return new UnaryTtrpcCallInvoker(new TtrpcClient(new NetworkStream(socket, ownsSocket: true)));
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        CallAsync(method, options, request).GetAwaiter().GetResult();

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var response = CallAsync(method, options, request);
        return new AsyncUnaryCall<TResponse>(
            response,
            Task.FromResult(new Metadata()),
            () => response.IsCompletedSuccessfully ? Grpc.Core.Status.DefaultSuccess : response.Exception?.InnerException is RpcException e ? e.Status : new Grpc.Core.Status(StatusCode.Unknown, ""),
            () => [],
            () => { });
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException("streaming calls are not part of this test invoker");

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("streaming calls are not part of this test invoker");

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("streaming calls are not part of this test invoker");

    public ValueTask DisposeAsync() => Client.DisposeAsync();

    private async Task<TResponse> CallAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options, TRequest request)
        where TRequest : class
        where TResponse : class
    {
        TimeSpan? timeout = options.Deadline is { } deadline && deadline != DateTime.MaxValue ? deadline - DateTime.UtcNow : null;
        var metadata = options.Headers?.Where(h => !h.IsBinary).Select(h => KeyValuePair.Create(h.Key, h.Value));
        ByteString reply = await Client.CallRawAsync(
            method.ServiceName, method.Name, ((IMessage)request).ToByteString(),
            timeout, metadata, options.CancellationToken);
        return method.ResponseMarshaller.ContextualDeserializer(new KataAgent.Agent.Server.Binding.ByteArrayDeserializationContext(reply.Memory));
    }
}
