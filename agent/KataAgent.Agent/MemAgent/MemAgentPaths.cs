namespace KataAgent.Agent.MemAgent;

/// <summary>
/// The kernel files the mem-agent reads and writes, below roots tests can move (a fake tree with
/// KATA_AGENT_PROC_ROOT, KATA_AGENT_SYSFS_ROOT, KATA_AGENT_CGROUP_ROOT).
/// </summary>
/// <param name="ProcRoot">procfs (<c>/proc</c>).</param>
/// <param name="SysfsRoot">sysfs (<c>/sys</c>).</param>
/// <param name="CgroupRoot">The memory cgroup hierarchy (the cgroup2 mount).</param>
public sealed record MemAgentPaths(string ProcRoot, string SysfsRoot, string CgroupRoot)
{
    /// <summary>MGLRU's switch: 7 (0x0007) turns on every part of it.</summary>
    public string LruGenEnabled => Path.Combine(SysfsRoot, "kernel/mm/lru_gen/enabled");

    /// <summary>MGLRU's debugfs interface: the generations of every memcg and node, and the aging/eviction commands.</summary>
    public string LruGen => Path.Combine(SysfsRoot, "kernel/debug/lru_gen");

    /// <summary>Where debugfs is mounted.</summary>
    public string DebugFs => Path.Combine(SysfsRoot, "kernel/debug");

    /// <summary>Writing 1 compacts all of memory.</summary>
    public string CompactMemory => Path.Combine(ProcRoot, "sys/vm/compact_memory");

    /// <summary>Free pages per order, zone and migrate type.</summary>
    public string PageTypeInfo => Path.Combine(ProcRoot, "pagetypeinfo");

    /// <summary>MemFree, SwapFree.</summary>
    public string MemInfo => Path.Combine(ProcRoot, "meminfo");

    /// <summary>System-wide pressure files (the root cgroup's).</summary>
    public string SystemPressure => Path.Combine(ProcRoot, "pressure");
}
