using KataAgent.Agent.Config;
using KataAgent.Agent.Containers;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest.Hotplug;
using KataAgent.Agent.PodVolumes;
using KataAgent.Agent.Sandbox;
using KataAgent.Protocols;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Pods;

/// <summary>
/// kataagent.v1.Pods' core: one pod per guest, created as one transaction out of the parts Kata's RPCs use (the
/// sandbox manager, the container manager, the pod volumes), started behind its start gate, resized, watched and
/// deleted. One partial file per operation. Lifecycle operations take turns (<see cref="_lifecycle"/>); GetPod and
/// WatchPod never wait for them. Errors are <see cref="AgentException"/>s naming the request's fields.
/// </summary>
internal sealed partial class PodManager
{
    private readonly SandboxManager _sandbox;
    private readonly ContainerManager _containers;
    private readonly GuestVolumes _volumes;
    private readonly StartGateRunner _gates;
    private readonly PodResizer _resizer;
    private readonly ILogger<PodManager> _logger;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);

    /// <summary>Ids of pods deleted, so a second DeletePod succeeds and an unknown id is NOT_FOUND.</summary>
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
    private volatile Pod? _pod;

    public PodManager(SandboxManager sandbox, ContainerManager containers, GuestVolumes volumes, StartGateRunner gates, GuestHotplug hotplug, AgentConfig config, ILogger<PodManager> logger)
    {
        _sandbox = sandbox;
        _containers = containers;
        _volumes = volumes;
        _gates = gates;
        _resizer = new PodResizer(hotplug, config.ProcRoot);
        _logger = logger;
        _containers.StartGuard.Started += OnContainerStarted;
    }

    /// <summary>The pod named <paramref name="podId"/> (INVALID_ARGUMENT for a bad id, NOT_FOUND for another).</summary>
    private Pod Require(string podId, string field = "pod_id")
    {
        if (ContainerIds.Problem(podId) is { } problem)
        {
            throw AgentException.InvalidArgument(field, problem);
        }
        return _pod is { } pod && pod.Id == podId
            ? pod
            : throw AgentException.NotFound(field, _deleted.Contains(podId) ? $"pod '{podId}' was deleted" : $"no pod '{podId}'");
    }

    /// <summary>A container of the pod as the host sees it now.</summary>
    private PodContainerStatus StatusOf(PodMember member)
    {
        var status = new PodContainerStatus { ContainerId = member.ContainerId, Name = member.Name, State = PodContainerStatus.Types.State.Created };
        if (!_containers.Contains(member.ContainerId))
        {
            // Removed behind the pod's back (Kata's RemoveContainer, DestroySandbox).
            status.State = PodContainerStatus.Types.State.Exited;
            status.ExitCode = -1;
            return status;
        }
        var container = _containers.Get(member.ContainerId);
        if (container.StartedAt is { } started)
        {
            status.StartedAt = UnixNanoseconds(started);
            status.State = PodContainerStatus.Types.State.Running;
        }
        if (container.State == ContainerState.Stopped || (container.StartedAt is not null && container.Init.HasExited))
        {
            status.State = PodContainerStatus.Types.State.Exited;
            status.ExitCode = container.Init.Exited.IsCompletedSuccessfully ? container.Init.Exited.Result : -1;
            status.FinishedAt = UnixNanoseconds(container.FinishedAt ?? DateTimeOffset.UtcNow);
        }
        return status;
    }

    private PodStatus Snapshot(Pod pod)
    {
        var status = new PodStatus { PodId = pod.Id, Gate = pod.GateStatus.Clone() };
        status.Containers.AddRange(pod.Members.Select(StatusOf));
        foreach (var (key, value) in pod.Annotations)
        {
            status.Annotations[key] = value;
        }
        return status;
    }

    /// <summary>Every start of one of the pod's containers, through StartPod or Kata's StartContainer: reported, and its exit too.</summary>
    private void OnContainerStarted(string containerId)
    {
        if (_pod is not { } pod || pod.FindByContainerId(containerId) is not { } member)
        {
            return;
        }
        lock (pod.Watchers.Sync)
        {
            pod.Watchers.Publish(new PodEvent { Container = StatusOf(member) });
        }
        if (_containers.Contains(containerId))
        {
            var container = _containers.Get(containerId);
            _ = container.Init.Exited.ContinueWith(exit =>
            {
                var status = StatusOf(member);
                status.State = PodContainerStatus.Types.State.Exited;
                status.ExitCode = exit.IsCompletedSuccessfully ? exit.Result : -1;
                status.FinishedAt = status.FinishedAt != 0 ? status.FinishedAt : UnixNanoseconds(DateTimeOffset.UtcNow);
                pod.Watchers.Publish(new PodEvent { Container = status });
            }, TaskScheduler.Default);
        }
    }

    private static long UnixNanoseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
}
