using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>
/// gRPC's end of <see cref="AgentErrorMapping"/>: every failure a handler lets escape becomes the
/// status the mapping gives it, and the generated base class's bare UNIMPLEMENTED becomes one that
/// names the RPC. Nothing escapes to Kestrel as a generic failure. (A request that does not parse
/// fails before any interceptor runs; <see cref="Binding.ParsedRequestServiceBinder{TService}"/> answers it.)
/// </summary>
internal sealed class RpcErrorInterceptor(ILogger<RpcErrorInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, context.Method) is { } translated)
        {
            throw translated;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, context.Method) is { } translated)
        {
            throw translated;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, context.Method) is { } translated)
        {
            throw translated;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception e) when (Translate(e, context.Method) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>The status for <paramref name="exception"/>, or null to let it pass unchanged (a status a handler chose).</summary>
    private RpcException? Translate(Exception exception, string method)
    {
        var status = AgentErrorMapping.ToStatus(exception, method.TrimStart('/'), logger);
        return exception is RpcException same && same.StatusCode == status.Code && same.Status.Detail == status.Message
            ? null
            : new RpcException(new Status(status.Code, status.Message));
    }
}
