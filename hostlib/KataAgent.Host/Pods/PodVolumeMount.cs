namespace KataAgent.Host.Pods;

/// <summary>One volumeMounts entry.</summary>
public sealed record PodVolumeMount
{
    /// <summary>The volume's name.</summary>
    public required string Name { get; init; }

    /// <summary>mountPath: absolute, in the container.</summary>
    public required string MountPath { get; init; }

    /// <summary>readOnly.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>subPath: a relative path inside the volume; empty for its root.</summary>
    public string SubPath { get; init; } = "";
}
