namespace KataAgent.Host.Pods;

/// <summary>A container's securityContext, the supported part (privileged is refused when loading).</summary>
public sealed record PodSecurityContext
{
    /// <summary>runAsUser; null keeps the image's user.</summary>
    public long? RunAsUser { get; init; }

    /// <summary>runAsGroup; null keeps the image's group.</summary>
    public long? RunAsGroup { get; init; }

    /// <summary>capabilities.add, without the CAP_ prefix, as Kubernetes writes them ("NET_ADMIN").</summary>
    public IReadOnlyList<string> AddCapabilities { get; init; } = [];

    /// <summary>capabilities.drop ("ALL" drops every one).</summary>
    public IReadOnlyList<string> DropCapabilities { get; init; } = [];

    /// <summary>readOnlyRootFilesystem.</summary>
    public bool ReadOnlyRootFilesystem { get; init; }
}
