namespace KataAgent.Host.Pods;

/// <summary>emptyDir: medium and sizeLimit.</summary>
public sealed record EmptyDirVolumeSource
{
    /// <summary>medium: "Memory" puts it in a tmpfs in guest memory.</summary>
    public bool InMemory { get; init; }

    /// <summary>sizeLimit in bytes, enforced in the guest; null for none.</summary>
    public long? SizeLimitBytes { get; init; }
}
