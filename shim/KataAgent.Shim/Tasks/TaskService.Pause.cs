using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Containerd.Types;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>Pause: freezes the container (the sandbox: every container of the pod); publishes TaskPaused.</summary>
    private Task<Empty> PauseAsync(PauseRequest request, CancellationToken cancellationToken) =>
        FreezeAsync(request.Id, pause: true, cancellationToken);

    /// <summary>Resume: thaws what Pause froze; publishes TaskResumed.</summary>
    private Task<Empty> ResumeAsync(ResumeRequest request, CancellationToken cancellationToken) =>
        FreezeAsync(request.Id, pause: false, cancellationToken);

    private async Task<Empty> FreezeAsync(string id, bool pause, CancellationToken cancellationToken)
    {
        var task = Find(id);
        var (from, to) = pause ? (Status.Running, Status.Paused) : (Status.Paused, Status.Running);
        await task.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (task.Init.Status != from)
            {
                throw TaskException.FailedPrecondition($"task {id} is {task.Init.Status.ToString().ToLowerInvariant()}, not {from.ToString().ToLowerInvariant()}");
            }
            var members = task.Role == PodRole.Sandbox
                ? Tasks().Where(t => t.Role == PodRole.PodContainer && t.Init.Status == from)
                : [task];
            foreach (var member in members)
            {
                if (member.Container is not { } container)
                {
                    continue;
                }
                if (pause)
                {
                    await container.PauseAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await container.ResumeAsync(cancellationToken).ConfigureAwait(false);
                }
                foreach (var process in member.Execs.Prepend(member.Init))
                {
                    process.TryMove(from, to);
                }
            }
            task.Init.TryMove(from, to);
        }
        finally
        {
            task.Gate.Release();
        }
        _events.Publish(pause ? new TaskPaused { ContainerId = id } : new TaskResumed { ContainerId = id });
        return new Empty();
    }
}
