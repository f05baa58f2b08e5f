namespace KataAgent.Host.Pods;

/// <summary>What <see cref="PodSizing"/> adds to a pod's requests, and its caps (docs/PODS.md "Sizing").</summary>
public sealed record PodSizingOptions
{
    /// <summary>vCPUs for the guest itself (agent, kernel threads, stdio copies), on top of the pod's CPU requests; at least 1.</summary>
    public int OverheadCpus { get; init; } = 1;

    /// <summary>Memory for the guest kernel, the agent and page cache, on top of the pod's memory requests, in MiB; at least 64.</summary>
    public int OverheadMemoryMiB { get; init; } = 256;

    /// <summary>Workload memory assumed for a pod that requests none at all (every container BestEffort), in MiB, as the shim's defaultMemoryMiB.</summary>
    public int DefaultMemoryMiB { get; init; } = 512;

    /// <summary>The most vCPUs the VM may grow to; 0 for the host's CPU count.</summary>
    public int MaxCpus { get; init; }

    /// <summary>The most memory the VM may grow to, in MiB; 0 for the host's memory.</summary>
    public int MaxMemoryMiB { get; init; }

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of range, named by its property.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(OverheadCpus, 1, nameof(OverheadCpus));
        ArgumentOutOfRangeException.ThrowIfLessThan(OverheadMemoryMiB, 64, nameof(OverheadMemoryMiB));
        ArgumentOutOfRangeException.ThrowIfNegative(DefaultMemoryMiB, nameof(DefaultMemoryMiB));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxCpus, nameof(MaxCpus));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxMemoryMiB, nameof(MaxMemoryMiB));
        if (MaxCpus > 0 && MaxCpus < OverheadCpus)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCpus), MaxCpus, $"below OverheadCpus ({OverheadCpus}); 0 means the host's CPU count");
        }
        if (MaxMemoryMiB > 0 && MaxMemoryMiB < OverheadMemoryMiB)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMemoryMiB), MaxMemoryMiB, $"below OverheadMemoryMiB ({OverheadMemoryMiB}); 0 means the host's memory");
        }
    }
}
