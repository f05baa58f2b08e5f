using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Daemon;
using KataAgent.Shim.Events;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// <c>containerd.task.v2.Task</c>: the tasks of one pod (the sandbox and its containers, or one container alone) in
/// one VM.
/// </summary>
internal sealed partial class TaskService
{
    /// <summary>The service name on the wire.</summary>
    public const string ServiceName = "containerd.task.v2.Task";

    private readonly ShimArguments _arguments;
    private readonly IEventPublisher _events;
    private readonly IShimLifetime _lifetime;

    public TaskService(ShimArguments arguments, IEventPublisher events, IShimLifetime lifetime)
    {
        _arguments = arguments;
        _events = events;
        _lifetime = lifetime;
    }

    /// <summary>Registers every method of the task service on <paramref name="server"/>.</summary>
    public void Register(TtrpcServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
    }

    /// <summary>
    /// The <c>delete</c> action: cleans up what task <see cref="ShimArguments.Id"/> left in
    /// <see cref="ShimArguments.Bundle"/> when its shim is gone or has let go of it (the rootfs unmounted; for a
    /// sandbox, its VM and state), and gives containerd the task's end.
    /// </summary>
    public static Task<DeleteResponse> CleanupAsync(ShimArguments arguments, CancellationToken cancellationToken) =>
        throw new NotImplementedException();
}
