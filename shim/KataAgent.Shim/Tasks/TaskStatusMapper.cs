using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Shim.Config;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// The one place where the task service's failures become the gRPC statuses containerd understands
/// (<c>errdefs.FromGRPC</c>): NotFound, AlreadyExists, InvalidArgument, FailedPrecondition, Unimplemented; anything
/// else is Unknown with its message.
/// </summary>
internal static class TaskStatusMapper
{
    /// <summary>The status the caller of <paramref name="method"/> gets for <paramref name="error"/>.</summary>
    public static Status ToStatus(Exception error, string method) => error switch
    {
        TaskException task => new Status(Code(task.Kind), task.Message),
        OciBundleException bundle => new Status(StatusCode.InvalidArgument, bundle.Message),
        ShimConfigurationException config => new Status(StatusCode.FailedPrecondition, config.Message),
        AgentStatusException agent => new Status(FromAgent(agent.StatusCode), $"{method}: {agent.Message}"),
        ArgumentException argument => new Status(StatusCode.InvalidArgument, argument.Message),
        OperationCanceledException => new Status(StatusCode.Cancelled, $"{method}: cancelled"),
        KataAgentException host => new Status(StatusCode.Unknown, $"{method}: {host.Message}"),
        _ => new Status(StatusCode.Unknown, $"{method}: {error.Message}"),
    };

    private static StatusCode Code(TaskErrorKind kind) => kind switch
    {
        TaskErrorKind.NotFound => StatusCode.NotFound,
        TaskErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        TaskErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        TaskErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        TaskErrorKind.Unimplemented => StatusCode.Unimplemented,
        _ => StatusCode.Unknown,
    };

    /// <summary>The agent's refusals that containerd has a class for keep it; the rest are Unknown.</summary>
    private static StatusCode FromAgent(AgentStatusCode code) => code switch
    {
        AgentStatusCode.InvalidArgument => StatusCode.InvalidArgument,
        AgentStatusCode.NotFound => StatusCode.NotFound,
        AgentStatusCode.AlreadyExists => StatusCode.AlreadyExists,
        AgentStatusCode.FailedPrecondition => StatusCode.FailedPrecondition,
        AgentStatusCode.Unimplemented => StatusCode.Unimplemented,
        AgentStatusCode.DeadlineExceeded => StatusCode.DeadlineExceeded,
        AgentStatusCode.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}
