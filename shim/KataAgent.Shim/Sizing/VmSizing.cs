using KataAgent.Protocols.Agent;

namespace KataAgent.Shim.Sizing;

/// <summary>
/// The VM's size from what the pod asked for (pure; docs/SHIM.md "Sizing"): boot vCPUs from the pod's CPU requests,
/// boot memory from its memory, hot-plug headroom up to its limits (or the host's CPUs and memory without limits);
/// and the size a set of containers needs, for Create and Update.
/// </summary>
internal static class VmSizing
{
    /// <summary>containerd CRI's sandbox annotations (decimal strings, only when the pod has resources).</summary>
    public const string CpuPeriodAnnotation = "io.kubernetes.cri.sandbox-cpu-period";

    /// <inheritdoc cref="CpuPeriodAnnotation"/>
    public const string CpuQuotaAnnotation = "io.kubernetes.cri.sandbox-cpu-quota";

    /// <inheritdoc cref="CpuPeriodAnnotation"/>
    public const string CpuSharesAnnotation = "io.kubernetes.cri.sandbox-cpu-shares";

    /// <inheritdoc cref="CpuPeriodAnnotation"/>
    public const string MemoryAnnotation = "io.kubernetes.cri.sandbox-memory";

    /// <summary>CRI-O's pod resources: a CRI LinuxContainerResources as JSON.</summary>
    public const string CriOPodResourcesAnnotation = "io.kubernetes.cri-o.PodLinuxResources";

    /// <summary>The size of the VM for a sandbox spec (a pod's, by its annotations) or a lone container's spec (by its linux.resources), with this host's caps.</summary>
    /// <exception cref="SizingException">A malformed annotation (named).</exception>
    public static VmSize ForSandbox(Spec spec, SizingOptions options) => throw new NotImplementedException();

    /// <summary>The pure core of <see cref="ForSandbox(Spec, SizingOptions)"/>.</summary>
    /// <exception cref="SizingException">A malformed annotation (named).</exception>
    public static VmSize ForSandbox(IReadOnlyDictionary<string, string> annotations, LinuxResources? resources, SizingOptions options, HostCapacity host) =>
        throw new NotImplementedException();

    /// <summary>The demand of <paramref name="containers"/>' resources (nulls count as nothing).</summary>
    public static ResourceDemand Demand(IEnumerable<LinuxResources?> containers) => throw new NotImplementedException();

    /// <summary>The size the VM needs for <paramref name="demand"/>: never below its boot size, cut to its headroom.</summary>
    public static SizingTarget Target(VmSize size, ResourceDemand demand, SizingOptions options) => throw new NotImplementedException();
}
