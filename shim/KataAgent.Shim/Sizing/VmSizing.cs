using System.Globalization;
using System.Text.Json;
using KataAgent.Host.Sizing;
using KataAgent.Protocols.Agent;

namespace KataAgent.Shim.Sizing;

/// <summary>
/// The VM's size from what the pod asked for (pure; docs/SHIM.md "Sizing"): boot vCPUs from the pod's CPU requests,
/// boot memory from its memory, hot-plug headroom up to its limits (or the host's CPUs and memory without limits);
/// and the size a set of containers needs, for Create and Update.
/// </summary>
/// <remarks>
/// Kubernetes hands the runtime a pod's CPU request only as cgroup shares (kubelet: shares = milliCPU × 1024 / 1000,
/// at least 2), its CPU limit as CFS quota/period and its memory limit in bytes; memory requests never reach it.
/// Boot CPUs = base + ⌈request⌉, so the pod gets at boot the CPUs it was scheduled for; MaxCpus = base + ⌈limit⌉,
/// or the cap (the host's CPUs) without a limit, the room Update and later containers hot-plug into. Boot memory =
/// base + the limit (guest RAM is backed lazily, so booting with it costs the host only what the guest touches,
/// while hot-plugging DIMMs is slow and takes slots), or base + a default without one; then the headroom is the cap.
/// </remarks>
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

    /// <summary>The same as <see cref="CriOPodResourcesAnnotation"/> under CRI-O's newer annotation name.</summary>
    public const string CriOPodResourcesAnnotationV2 = "pod-linux-resources.crio.io";

    /// <summary>What kubelet writes as the shares of a pod or container without a CPU request (MinShares).</summary>
    public const ulong MinShares = 2;

    /// <summary>The guest's memory block: hot-plug headroom is kept to whole blocks.</summary>
    public const int MemoryBlockMiB = VmSizeArithmetic.MemoryBlockMiB;

    private static readonly string[] CriContainerTypeAnnotations = ["io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"];

    /// <summary>The size of the VM for a sandbox spec (a pod's, by its annotations) or a lone container's spec (by its linux.resources), with this host's caps.</summary>
    /// <exception cref="SizingException">A malformed annotation (named).</exception>
    public static VmSize ForSandbox(Spec spec, SizingOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return ForSandbox(spec.Annotations, spec.Linux?.Resources, options, HostCapacity.Current());
    }

    /// <summary>The pure core of <see cref="ForSandbox(Spec, SizingOptions)"/>.</summary>
    /// <exception cref="SizingException">A malformed annotation (named), or a bad option.</exception>
    public static VmSize ForSandbox(IReadOnlyDictionary<string, string> annotations, LinuxResources? resources, SizingOptions options, HostCapacity host)
    {
        ArgumentNullException.ThrowIfNull(annotations);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(host);
        options.Validate();
        int cpuCap = options.MaxCpus > 0 ? options.MaxCpus : Math.Max(1, host.Cpus);
        int memoryCap = options.MaxMemoryMiB > 0 ? options.MaxMemoryMiB : Math.Max(options.BaseMemoryMiB, host.MemoryMiB);

        SizingSource source;
        Ask ask;
        if (FromContainerdAnnotations(annotations) is { } pod)
        {
            (source, ask) = (SizingSource.ContainerdPodAnnotations, pod);
        }
        else if (FromCriOAnnotation(annotations) is { } crio)
        {
            (source, ask) = (SizingSource.CriOPodResources, crio);
        }
        else if (!IsCriSandbox(annotations) && FromResources(resources) is { } own)
        {
            // A lone container (ctr run): its limits are all it will ever use, so the VM boots with them.
            (source, ask) = (SizingSource.ContainerResources, own with { RequestMilliCpus = Math.Max(own.RequestMilliCpus, own.LimitMilliCpus ?? 0), BootWithLimit = true });
        }
        else
        {
            (source, ask) = (SizingSource.Defaults, new Ask(0, null, null, BootWithLimit: false));
        }

        // The arithmetic is PodSizing's too (VmSizeArithmetic); a lone container boots with its limits and keeps
        // the caps as headroom, and a pod's memory limit is all of it the pod may use, so the VM boots with it.
        var (bootCpus, maxCpus) = VmSizeArithmetic.Cpus(options.BaseCpus, ask.RequestMilliCpus, ask.BootWithLimit ? null : ask.LimitMilliCpus, cpuCap);
        long workloadMemory = ask.MemoryLimitMiB ?? options.DefaultMemoryMiB;
        var (bootMemory, maxMemory) = VmSizeArithmetic.Memory(options.BaseMemoryMiB, workloadMemory, ask.MemoryLimitMiB is not null && !ask.BootWithLimit ? workloadMemory : null, memoryCap);
        return new VmSize(bootCpus, bootMemory, maxCpus, maxMemory, options.MemorySlots, source);
    }

    /// <summary>The demand of <paramref name="containers"/>' resources (nulls count as nothing).</summary>
    public static ResourceDemand Demand(IEnumerable<LinuxResources?> containers)
    {
        ArgumentNullException.ThrowIfNull(containers);
        long milliCpus = 0;
        long memoryMiB = 0;
        foreach (var resources in containers)
        {
            if (FromResources(resources) is not { } ask)
            {
                continue;
            }
            // A container may use up to its limit; without one, what it was scheduled for (its request).
            milliCpus = SaturatingAdd(milliCpus, ask.LimitMilliCpus ?? ask.RequestMilliCpus);
            memoryMiB = SaturatingAdd(memoryMiB, ask.MemoryLimitMiB ?? 0);
        }
        return new ResourceDemand(milliCpus, memoryMiB);
    }

    /// <summary>The size the VM needs for <paramref name="demand"/>: never below its boot size, cut to its headroom.</summary>
    public static SizingTarget Target(VmSize size, ResourceDemand demand, SizingOptions options)
    {
        ArgumentNullException.ThrowIfNull(size);
        ArgumentNullException.ThrowIfNull(demand);
        ArgumentNullException.ThrowIfNull(options);
        long cpus = Math.Max(size.BootCpus, options.BaseCpus + (long)VmSizeArithmetic.WholeCpus(demand.MilliCpus));
        long memory = Math.Max(size.BootMemoryMiB, SaturatingAdd(options.BaseMemoryMiB, demand.MemoryMiB));
        bool capped = cpus > size.MaxCpus || memory > size.MaxMemoryMiB;
        return new SizingTarget((int)Math.Min(cpus, size.MaxCpus), (int)Math.Min(memory, size.MaxMemoryMiB), capped);
    }

    /// <summary>kubelet's shares = milliCPU × 1024 / 1000 (floored, at least 2) inverted: ⌈shares × 1000 / 1024⌉ is exactly the request.</summary>
    private static long RequestMilliCpus(ulong shares) => shares <= MinShares ? 0 : Saturate(((UInt128)shares * 1000 + 1023) / 1024);

    /// <summary>⌈quota × 1000 / period⌉; null when either is not positive (no limit).</summary>
    private static long? LimitMilliCpus(long quota, ulong period) =>
        quota > 0 && period > 0 ? Saturate(((UInt128)(ulong)quota * 1000 + period - 1) / period) : null;

    private static long? MemoryMiBOf(long bytes) => bytes > 0 ? VmSizeArithmetic.WholeMiB(bytes) : null;

    /// <summary>Annotations are strings anyone can write: absurd values saturate instead of wrapping around.</summary>
    private static long Saturate(UInt128 value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private static long SaturatingAdd(long a, long b) => VmSizeArithmetic.SaturatingAdd(a, b);

    private static Ask? FromContainerdAnnotations(IReadOnlyDictionary<string, string> annotations)
    {
        bool any = false;
        ulong period = UnsignedAnnotation(annotations, CpuPeriodAnnotation, ref any);
        long quota = SignedAnnotation(annotations, CpuQuotaAnnotation, ref any);
        ulong shares = UnsignedAnnotation(annotations, CpuSharesAnnotation, ref any);
        long memory = SignedAnnotation(annotations, MemoryAnnotation, ref any);
        return any ? new Ask(RequestMilliCpus(shares), LimitMilliCpus(quota, period), MemoryMiBOf(memory), BootWithLimit: false) : null;
    }

    /// <summary>
    /// CRI-O's annotation: Go's json.Marshal of the CRI LinuxContainerResources (snake_case keys, "null" without
    /// resources); protobuf's camelCase JSON names are taken too.
    /// </summary>
    private static Ask? FromCriOAnnotation(IReadOnlyDictionary<string, string> annotations)
    {
        string key = annotations.ContainsKey(CriOPodResourcesAnnotation) ? CriOPodResourcesAnnotation : CriOPodResourcesAnnotationV2;
        if (!annotations.TryGetValue(key, out string? json))
        {
            return null;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new SizingException(key, $"is not JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SizingException(key, $"is a JSON {root.ValueKind.ToString().ToLowerInvariant()}; expected an object (a CRI LinuxContainerResources)");
            }
            long period = JsonInteger(root, key, "cpu_period", "cpuPeriod");
            long quota = JsonInteger(root, key, "cpu_quota", "cpuQuota");
            long shares = JsonInteger(root, key, "cpu_shares", "cpuShares");
            long memory = JsonInteger(root, key, "memory_limit_in_bytes", "memoryLimitInBytes");
            return new Ask(RequestMilliCpus((ulong)Math.Max(0, shares)), LimitMilliCpus(quota, (ulong)Math.Max(0, period)), MemoryMiBOf(memory), BootWithLimit: false);
        }
    }

    private static Ask? FromResources(LinuxResources? resources)
    {
        if (resources is null || (resources.CPU is null && resources.Memory is null))
        {
            return null;
        }
        var cpu = resources.CPU;
        return new Ask(
            cpu is null ? 0 : RequestMilliCpus(cpu.Shares),
            cpu is null ? null : LimitMilliCpus(cpu.Quota, cpu.Period),
            resources.Memory is { } memory ? MemoryMiBOf(memory.Limit) : null,
            BootWithLimit: false);
    }

    private static bool IsCriSandbox(IReadOnlyDictionary<string, string> annotations) =>
        CriContainerTypeAnnotations.Any(key => annotations.TryGetValue(key, out string? type) && type == "sandbox");

    private static ulong UnsignedAnnotation(IReadOnlyDictionary<string, string> annotations, string key, ref bool any)
    {
        if (!annotations.TryGetValue(key, out string? text))
        {
            return 0;
        }
        any = true;
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)
            ? value
            : throw new SizingException(key, $"'{text}' is not a non-negative decimal integer");
    }

    private static long SignedAnnotation(IReadOnlyDictionary<string, string> annotations, string key, ref bool any)
    {
        if (!annotations.TryGetValue(key, out string? text))
        {
            return 0;
        }
        any = true;
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new SizingException(key, $"'{text}' is not a decimal integer");
    }

    private static long JsonInteger(JsonElement root, string annotation, string name, string camelName)
    {
        if (!root.TryGetProperty(name, out var value) && !root.TryGetProperty(camelName, out value))
        {
            return 0;
        }
        if (value.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }
        // protobuf's JSON writes int64 as a string; Go's encoding/json as a number.
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long number))
        {
            return number;
        }
        if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number))
        {
            return number;
        }
        throw new SizingException($"{annotation}: $.{name}", $"{value.GetRawText()} is not an integer");
    }

    /// <summary>What a pod or container asked for: its CPU request and limit in milliCPU, its memory limit in MiB.</summary>
    /// <param name="BootWithLimit">A lone container: boot with its limits, keep the caps as headroom.</param>
    private sealed record Ask(long RequestMilliCpus, long? LimitMilliCpus, long? MemoryLimitMiB, bool BootWithLimit);
}
