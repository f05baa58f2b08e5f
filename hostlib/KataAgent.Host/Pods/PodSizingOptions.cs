namespace KataAgent.Host.Pods;

/// <summary>What <see cref="PodSizing"/> adds to a pod's requests, and its caps.</summary>
public sealed record PodSizingOptions
{
    /// <summary>vCPUs for the guest itself (agent, kernel threads), on top of the pod's CPU requests.</summary>
    public int OverheadCpus { get; init; } = 1;

    /// <summary>Memory for the guest kernel, the agent and page cache, on top of the pod's memory requests, in MiB.</summary>
    public int OverheadMemoryMiB { get; init; } = 256;

    /// <summary>The most vCPUs the VM may grow to; 0 for the host's CPU count.</summary>
    public int MaxCpus { get; init; }

    /// <summary>The most memory the VM may grow to, in MiB; 0 for the host's memory.</summary>
    public int MaxMemoryMiB { get; init; }
}
