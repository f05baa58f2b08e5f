using System.Net.Http;
using System.Net.Sockets;
using Grpc.Core;

namespace KataAgent.Host;

/// <summary>
/// A call to the agent failed: the agent answered with <see cref="StatusCode"/> and <see cref="Detail"/>
/// (<see cref="KataAgentErrorKind.AgentStatus"/>), or the connection failed during the call
/// (<see cref="KataAgentErrorKind.Connect"/>; the status is then gRPC's own, typically
/// <see cref="AgentStatusCode.Unavailable"/>, and the inner exception says why).
/// </summary>
public sealed class AgentStatusException : KataAgentException
{
    /// <summary>A failed call to <paramref name="method"/>.</summary>
    public AgentStatusException(string method, AgentStatusCode statusCode, string detail, bool transportFailed = false, Exception? innerException = null)
        : base(transportFailed ? KataAgentErrorKind.Connect : KataAgentErrorKind.AgentStatus,
            $"{method} failed: {statusCode} ({(int)statusCode}): {detail}", innerException)
    {
        Method = method;
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>The RPC that failed (e.g. "CreateContainer").</summary>
    public string Method { get; }

    /// <summary>The status the call ended with.</summary>
    public AgentStatusCode StatusCode { get; }

    /// <summary>The agent's message (for a transport failure, gRPC's).</summary>
    public string Detail { get; }

    /// <summary>
    /// The library's one translation of a gRPC failure: a cancelled call whose caller cancelled becomes
    /// <see cref="OperationCanceledException"/>; anything else this type.
    /// </summary>
    internal static Exception From(RpcException e, string method, CancellationToken cancellationToken)
    {
        if (e.StatusCode == Grpc.Core.StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return new OperationCanceledException(e.Message, e, cancellationToken);
        }
        return new AgentStatusException(method, (AgentStatusCode)(int)e.StatusCode, e.Status.Detail, IsTransportFailure(e), e);
    }

    /// <summary>
    /// A status the client made up because the stream broke (the agent's own statuses come in trailers,
    /// with no exception behind them).
    /// </summary>
    private static bool IsTransportFailure(RpcException e)
    {
        for (Exception? cause = e.Status.DebugException; cause is not null; cause = cause.InnerException)
        {
            if (cause is IOException or SocketException or HttpRequestException)
            {
                return true;
            }
        }
        return false;
    }
}
