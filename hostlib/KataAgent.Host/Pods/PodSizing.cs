using KataAgent.Host.Sizing;

namespace KataAgent.Host.Pods;

/// <summary>
/// The VM's size from a pod's requests and limits (pure; the formula and its reasons are in docs/PODS.md "Sizing").
/// Boot vCPUs = overhead + ⌈Σ CPU requests⌉ and boot memory = overhead + Σ memory requests (or a default when the pod
/// requests none): the VM starts with what the node promised the pod. The limits are the hot-plug headroom
/// (MaxCpus, MaxMemoryMiB): overhead + Σ limits when every container has one, else the cap (the host's CPUs or
/// memory), as a container without a limit may use the whole host under runc. A request left out counts as the
/// container's limit, as Kubernetes defaults it.
/// </summary>
public static class PodSizing
{
    /// <summary>The VM for <paramref name="pod"/> on a host with <paramref name="hostCpus"/> CPUs and <paramref name="hostMemoryMiB"/> of memory.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A bad option (named), or no host CPUs or memory.</exception>
    public static PodVmSize Compute(PodSpec pod, PodSizingOptions options, int hostCpus, long hostMemoryMiB)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(hostCpus, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hostMemoryMiB, 1);
        options.Validate();
        int cpuCap = options.MaxCpus > 0 ? options.MaxCpus : hostCpus;
        int memoryCap = options.MaxMemoryMiB > 0 ? options.MaxMemoryMiB : (int)Math.Clamp(hostMemoryMiB, options.OverheadMemoryMiB, int.MaxValue);

        long cpuRequest = 0;
        long? cpuLimit = 0;
        long memoryRequest = 0;
        long? memoryLimit = 0;
        foreach (var container in pod.Containers)
        {
            var resources = container.Resources ?? new PodResources();
            cpuRequest = VmSizeArithmetic.SaturatingAdd(cpuRequest, Math.Max(0, resources.CpuRequestMilli ?? resources.CpuLimitMilli ?? 0));
            memoryRequest = VmSizeArithmetic.SaturatingAdd(memoryRequest, Math.Max(0, resources.MemoryRequestBytes ?? resources.MemoryLimitBytes ?? 0));
            // One container without a limit may use the whole host: then the pod's headroom is the cap.
            cpuLimit = cpuLimit is { } cpu && resources.CpuLimitMilli is { } containerCpu ? VmSizeArithmetic.SaturatingAdd(cpu, Math.Max(0, containerCpu)) : null;
            memoryLimit = memoryLimit is { } memory && resources.MemoryLimitBytes is { } containerMemory ? VmSizeArithmetic.SaturatingAdd(memory, Math.Max(0, containerMemory)) : null;
        }

        var (cpus, maxCpus) = VmSizeArithmetic.Cpus(options.OverheadCpus, cpuRequest, cpuLimit, cpuCap);
        long bootMemory = memoryRequest > 0 ? VmSizeArithmetic.WholeMiB(memoryRequest) : options.DefaultMemoryMiB;
        long? maxMemory = memoryLimit is { } limit ? Math.Max(bootMemory, VmSizeArithmetic.WholeMiB(limit)) : null;
        var (memoryMiB, maxMemoryMiB) = VmSizeArithmetic.Memory(options.OverheadMemoryMiB, bootMemory, maxMemory, memoryCap);
        return new PodVmSize(cpus, memoryMiB, maxCpus, maxMemoryMiB);
    }
}
