using Grpc.Core;
using Grpc.Core.Interceptors;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>
/// Turns every failure into a status a runtime can act on: system-call errors by errno, other
/// exceptions as INTERNAL with their message, and the generated base class's bare UNIMPLEMENTED
/// into one that names the RPC. Nothing escapes to Kestrel as a generic failure.
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

    /// <summary>The status for <paramref name="exception"/>, or null to let it pass unchanged.</summary>
    private RpcException? Translate(Exception exception, string method)
    {
        string rpc = method.TrimStart('/');
        switch (exception)
        {
            case RpcException { StatusCode: StatusCode.Unimplemented } rpcException when string.IsNullOrEmpty(rpcException.Status.Detail):
                logger.LogDebug("{Rpc}: not implemented", rpc);
                return new RpcException(new Status(StatusCode.Unimplemented, $"{rpc} is not implemented by kata-agent {AgentVersion.Agent}"));
            case RpcException rpcException:
                logger.LogDebug("{Rpc}: {Status} {Detail}", rpc, rpcException.StatusCode, rpcException.Status.Detail);
                return null;
            case OperationCanceledException:
                return new RpcException(new Status(StatusCode.Cancelled, $"{rpc}: cancelled"));
            case LinuxException linux:
                logger.LogWarning("{Rpc}: {Error}", rpc, linux.Message);
                return new RpcException(new Status(StatusFor(linux.Errno), $"{rpc}: {linux.Message}"));
            default:
                logger.LogError(exception, "{Rpc}: unexpected failure", rpc);
                return new RpcException(new Status(StatusCode.Internal, $"{rpc}: {exception.GetType().Name}: {exception.Message}"));
        }
    }

    private static StatusCode StatusFor(int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => StatusCode.PermissionDenied,
        Errno.ENOENT or Errno.ESRCH or Errno.ENODEV or Errno.ENXIO => StatusCode.NotFound,
        Errno.EEXIST => StatusCode.AlreadyExists,
        Errno.EINVAL => StatusCode.InvalidArgument,
        Errno.ENOSYS or Errno.EOPNOTSUPP => StatusCode.Unimplemented,
        Errno.EBUSY or Errno.EAGAIN => StatusCode.Unavailable,
        Errno.ENOSPC or Errno.ENOMEM => StatusCode.ResourceExhausted,
        Errno.ETIMEDOUT => StatusCode.DeadlineExceeded,
        _ => StatusCode.Internal,
    };
}
