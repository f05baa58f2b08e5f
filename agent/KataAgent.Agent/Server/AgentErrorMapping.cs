using Grpc.Core;
using KataAgent.Agent.Errors;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Server;

/// <summary>
/// The one place a failure becomes a status, for every front end (the gRPC interceptor and the ttrpc
/// binder): an <see cref="AgentException"/> by its kind, a system call's error that no core code
/// classified by its errno, cancellation as CANCELLED, a status a handler or the binding already chose
/// as it is (the generated base class's bare UNIMPLEMENTED named after the RPC), and anything else as
/// INTERNAL with its message. Each failure is logged here and nowhere else.
/// </summary>
public static class AgentErrorMapping
{
    /// <summary>The status code for an error of <paramref name="kind"/>.</summary>
    public static StatusCode CodeFor(AgentErrorKind kind) => kind switch
    {
        AgentErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        AgentErrorKind.PermissionDenied => StatusCode.PermissionDenied,
        AgentErrorKind.NotFound => StatusCode.NotFound,
        AgentErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        AgentErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        AgentErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        AgentErrorKind.Unavailable => StatusCode.Unavailable,
        AgentErrorKind.Unauthenticated => StatusCode.Unauthenticated,
        AgentErrorKind.Unimplemented => StatusCode.Unimplemented,
        AgentErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
        AgentErrorKind.Internal => StatusCode.Internal,
        _ => StatusCode.Internal,
    };

    /// <summary>The status code for a system call's errno when nothing closer to the call said what it means.</summary>
    public static StatusCode CodeFor(int errno) => errno switch
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

    /// <summary>
    /// The status for <paramref name="exception"/>, which a handler of <paramref name="rpc"/>
    /// (e.g. <c>grpc.AgentService/CreateContainer</c>) let escape; logs it once on <paramref name="logger"/>.
    /// </summary>
    public static AgentStatus ToStatus(Exception exception, string rpc, ILogger logger)
    {
        switch (exception)
        {
            case RpcException { StatusCode: StatusCode.Unimplemented } bare when string.IsNullOrEmpty(bare.Status.Detail):
                logger.LogDebug("{Rpc}: not implemented", rpc);
                return new AgentStatus(StatusCode.Unimplemented, $"{rpc} is not implemented by kata-agent {AgentVersion.Agent}");
            case RpcException chosen:
                logger.LogDebug("{Rpc}: {Status} {Detail}", rpc, chosen.StatusCode, chosen.Status.Detail);
                return new AgentStatus(chosen.StatusCode, chosen.Status.Detail);
            case AgentException agent:
                var code = CodeFor(agent.Kind);
                if (code == StatusCode.Internal)
                {
                    logger.LogWarning("{Rpc}: {Error}", rpc, agent.Message);
                }
                else
                {
                    logger.LogDebug("{Rpc}: {Status} {Detail}", rpc, code, agent.Message);
                }
                return new AgentStatus(code, agent.Message);
            case OperationCanceledException:
                return new AgentStatus(StatusCode.Cancelled, $"{rpc}: cancelled");
            case LinuxException linux:
                logger.LogWarning("{Rpc}: {Error}", rpc, linux.Message);
                return new AgentStatus(CodeFor(linux.Errno), $"{rpc}: {linux.Message}");
            default:
                logger.LogError(exception, "{Rpc}: unexpected failure", rpc);
                return new AgentStatus(StatusCode.Internal, $"{rpc}: {exception.GetType().Name}: {exception.Message}");
        }
    }
}
