namespace KataAgent.Host.Pods;

/// <summary>
/// A check that runs inside the guest before any of the pod's containers may start (an attestation client, say).
/// Until it has succeeded the agent refuses to start the pod's containers, whoever asks; the host only learns the
/// outcome. In a manifest: the annotation <c>kataagent.io/start-gate</c> (docs/PODS.md).
/// </summary>
public sealed record PodStartGate
{
    /// <summary>The command; <c>Args[0]</c> absolute, a file in the initrd or, with <see cref="Container"/>, in that container's image.</summary>
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>Its environment, NAME=value.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>The container whose rootfs the gate runs in; null for the guest's own root.</summary>
    public string? Container { get; init; }

    /// <summary>How long the gate may run before it counts as failed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
}
