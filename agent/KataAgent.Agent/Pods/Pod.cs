using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Pods;

/// <summary>
/// A pod the agent created with CreatePod: its containers and volumes, its start gate and how that last went, and
/// its watchers. The gate's status changes only under <see cref="PodWatchers.Sync"/>, together with its publication.
/// </summary>
internal sealed class Pod(string id, IReadOnlyList<PodMember> members, IReadOnlyList<string> volumes, StartGate? gate, IReadOnlyDictionary<string, string> annotations)
{
    public string Id { get; } = id;

    /// <summary>In creation (and start) order.</summary>
    public IReadOnlyList<PodMember> Members { get; } = members;

    /// <summary>Names of the volumes set up, in order.</summary>
    public IReadOnlyList<string> Volumes { get; } = volumes;

    /// <summary>Null when the pod has none.</summary>
    public StartGate? Gate { get; } = gate;

    public IReadOnlyDictionary<string, string> Annotations { get; } = annotations;

    public PodWatchers Watchers { get; } = new();

    /// <summary>Cancelled when DeletePod begins: a gate still running is killed.</summary>
    public CancellationTokenSource Ending { get; } = new();

    /// <summary>The gate's last outcome; NONE without a gate. Replaced (never mutated) under the watchers' lock.</summary>
    public GateStatus GateStatus { get; set; } = new() { State = gate is null ? GateStatus.Types.State.None : GateStatus.Types.State.Pending };

    /// <summary>Whether the pod's containers may start: no gate, or one that passed.</summary>
    public bool GateOpen => GateStatus.State is GateStatus.Types.State.None or GateStatus.Types.State.Passed;

    public PodMember? FindByContainerId(string containerId) => Members.FirstOrDefault(m => m.ContainerId == containerId);
}
