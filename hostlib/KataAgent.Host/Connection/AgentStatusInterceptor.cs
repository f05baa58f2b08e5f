using Grpc.Core;
using Grpc.Core.Interceptors;

namespace KataAgent.Host;

/// <summary>
/// Where <see cref="AgentClient"/>'s typed calls go out: turns gRPC's <see cref="RpcException"/> into
/// <see cref="AgentStatusException"/> (or <see cref="OperationCanceledException"/>) once, for every call.
/// </summary>
internal sealed class AgentStatusInterceptor : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var call = continuation(request, context);
        string method = context.Method.Name;
        var token = context.Options.CancellationToken;
        return new AsyncUnaryCall<TResponse>(Translate(call.ResponseAsync, method, token), Translate(call.ResponseHeadersAsync, method, token), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    private static async Task<T> Translate<T>(Task<T> task, string method, CancellationToken cancellationToken)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw AgentStatusException.From(e, method, cancellationToken);
        }
    }
}
