namespace KataAgent.Host.Pods;

/// <summary>One of spec.volumes: exactly one of its sources is set.</summary>
public sealed record PodVolumeSpec
{
    /// <summary>A DNS label, unique in the pod.</summary>
    public required string Name { get; init; }

    /// <summary>emptyDir: made in the guest, never on the host.</summary>
    public EmptyDirVolumeSource? EmptyDir { get; init; }

    /// <summary>hostPath: a host directory or file shared into the VM.</summary>
    public HostPathVolumeSource? HostPath { get; init; }

    /// <summary>A raw disk the guest formats and mounts itself (not in Kubernetes' Pod: the annotation <c>kataagent.io/block-volumes</c> in a manifest, docs/PODS.md).</summary>
    public BlockVolumeSource? Block { get; init; }
}
