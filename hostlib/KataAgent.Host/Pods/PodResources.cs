namespace KataAgent.Host.Pods;

/// <summary>A container's resources: requests size the VM, limits bound the container's cgroup and the VM's hot-plug headroom.</summary>
public sealed record PodResources
{
    /// <summary>requests.cpu in millicores; null when not requested.</summary>
    public long? CpuRequestMilli { get; init; }

    /// <summary>limits.cpu in millicores; null when unlimited.</summary>
    public long? CpuLimitMilli { get; init; }

    /// <summary>requests.memory in bytes; null when not requested.</summary>
    public long? MemoryRequestBytes { get; init; }

    /// <summary>limits.memory in bytes; null when unlimited.</summary>
    public long? MemoryLimitBytes { get; init; }
}
