namespace KataAgent.Shim.Sizing;

/// <summary>Where a VM's size came from.</summary>
internal enum SizingSource
{
    /// <summary>Nothing declared: the configured base and default memory.</summary>
    Defaults,

    /// <summary>containerd's CRI sandbox annotations <c>io.kubernetes.cri.sandbox-{cpu-period,cpu-quota,cpu-shares,memory}</c>.</summary>
    ContainerdPodAnnotations,

    /// <summary>CRI-O's <c>io.kubernetes.cri-o.PodLinuxResources</c> JSON annotation.</summary>
    CriOPodResources,

    /// <summary>A lone container's own <c>linux.resources</c> (ctr run).</summary>
    ContainerResources,
}
