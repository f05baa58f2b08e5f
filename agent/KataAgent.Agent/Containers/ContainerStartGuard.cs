using System.Collections.Concurrent;

namespace KataAgent.Agent.Containers;

/// <summary>
/// Who else has a say in a container's start. Kata's StartContainer and the Pods service both start containers
/// through <see cref="ContainerManager.StartAsync"/>; a subsystem that must keep some containers from starting
/// (a pod's start gate) holds them here, and is told of every start so it can report it, whoever asked.
/// </summary>
public sealed class ContainerStartGuard
{
    private readonly ConcurrentDictionary<string, Func<string?>> _holds = new();

    /// <summary>Raised after a container's workload was started (its init exec'd), with the container's id.</summary>
    public event Action<string>? Started;

    /// <summary>
    /// Holds <paramref name="containerId"/>: <paramref name="refusal"/> is asked at each start and answers why the
    /// start is refused now, or null to let it go ahead.
    /// </summary>
    public void Hold(string containerId, Func<string?> refusal) => _holds[containerId] = refusal;

    /// <summary>Forgets the hold on <paramref name="containerId"/> (the container is gone).</summary>
    public void Release(string containerId) => _holds.TryRemove(containerId, out _);

    /// <summary>Why <paramref name="containerId"/> may not start now, or null when nothing holds it.</summary>
    public string? Refusal(string containerId) => _holds.TryGetValue(containerId, out var refusal) ? refusal() : null;

    internal void OnStarted(string containerId) => Started?.Invoke(containerId);
}
