namespace KataAgent.Host.Pods;

/// <summary>
/// What <see cref="Pod.AttachAsync"/> needs beyond the sandbox's own state, kept as pod.json in the state directory:
/// the pod's description (with no encryption key: those go to the guest alone) and its containers' ids.
/// </summary>
internal sealed record PodStateFile
{
    public required PodSpec Spec { get; init; }

    /// <summary>Each container's id in the agent, in the spec's order.</summary>
    public required IReadOnlyList<string> ContainerIds { get; init; }
}
