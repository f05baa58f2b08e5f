using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Containerd.CgroupsV2;
using Metrics = KataAgent.Protocols.Containerd.CgroupsV2.Metrics;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// The agent's StatsContainer answer (Kata's cgroup-v1-shaped CgroupStats, which our agent fills from the guest's
/// cgroup v2 files: cpu.stat, memory.current/peak/max/stat, memory.swap.*, pids.*, io.stat, hugetlb.*) as containerd's
/// <c>io.containerd.cgroups.v2.Metrics</c>, what Stats returns and CRI and <c>ctr task metrics</c> decode.
/// </summary>
/// <remarks>
/// The mapping undoes the agent's: nanoseconds back to the *_usec counters, io.stat's per-device rbytes, wbytes,
/// rios and wios back from the v1 Read/Write tables, every memory.stat key to its field. Kata's Go shim swaps user
/// and system time and folds all devices into one IOEntry; this does neither. Memory events stay unset: the agent
/// carries only memory.events "max" (as failcnt), and a zero oom_kill it never read would be a lie. Network
/// statistics have no place in the v2 Metrics.
/// </remarks>
internal static class MetricsMapper
{
    /// <summary>The type URL containerd matches exactly (no type.googleapis.com/ prefix).</summary>
    public const string TypeUrl = "io.containerd.cgroups.v2.Metrics";

    /// <summary>The v2 metrics in <paramref name="stats"/>; parts the agent left unset stay unset.</summary>
    public static Metrics ToMetrics(StatsContainerResponse stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        var metrics = new Metrics();
        if (stats.CgroupStats is not { } cgroup)
        {
            return metrics;
        }
        if (cgroup.PidsStats is { } pids)
        {
            metrics.Pids = new PidsStat { Current = pids.Current, Limit = pids.Limit };
        }
        if (cgroup.CpuStats is { } cpu)
        {
            metrics.Cpu = new CPUStat
            {
                UsageUsec = (cpu.CpuUsage?.TotalUsage ?? 0) / 1000,
                UserUsec = (cpu.CpuUsage?.UsageInUsermode ?? 0) / 1000,
                SystemUsec = (cpu.CpuUsage?.UsageInKernelmode ?? 0) / 1000,
                NrPeriods = cpu.ThrottlingData?.Periods ?? 0,
                NrThrottled = cpu.ThrottlingData?.ThrottledPeriods ?? 0,
                ThrottledUsec = (cpu.ThrottlingData?.ThrottledTime ?? 0) / 1000,
            };
        }
        if (cgroup.MemoryStats is { } memory)
        {
            metrics.Memory = MapMemory(memory);
        }
        if (cgroup.BlkioStats is { } blkio)
        {
            metrics.Io = MapIo(blkio);
        }
        foreach (var (pageSize, hugetlb) in cgroup.HugetlbStats.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            metrics.Hugetlb.Add(new HugeTlbStat { Current = hugetlb.Usage, Max = hugetlb.MaxUsage, Pagesize = pageSize });
        }
        return metrics;
    }

    /// <summary><see cref="ToMetrics"/> packed as StatsResponse.stats wants it: containerd's bare type URL, protobuf bytes.</summary>
    public static Any ToAny(StatsContainerResponse stats) => new() { TypeUrl = TypeUrl, Value = ToMetrics(stats).ToByteString() };

    private static MemoryStat MapMemory(MemoryStats memory)
    {
        var stat = memory.Stats;
        var result = new MemoryStat
        {
            Usage = memory.Usage?.Usage ?? 0,
            UsageLimit = memory.Usage?.Limit ?? 0,
            MaxUsage = memory.Usage?.MaxUsage ?? 0,
            SwapUsage = memory.SwapUsage?.Usage ?? 0,
            SwapLimit = memory.SwapUsage?.Limit ?? 0,
            SwapMaxUsage = memory.SwapUsage?.MaxUsage ?? 0,
            Anon = Get(stat, "anon"),
            File = Get(stat, "file"),
            KernelStack = Get(stat, "kernel_stack"),
            Slab = Get(stat, "slab"),
            Sock = Get(stat, "sock"),
            Shmem = Get(stat, "shmem"),
            FileMapped = Get(stat, "file_mapped"),
            FileDirty = Get(stat, "file_dirty"),
            FileWriteback = Get(stat, "file_writeback"),
            AnonThp = Get(stat, "anon_thp"),
            InactiveAnon = Get(stat, "inactive_anon"),
            ActiveAnon = Get(stat, "active_anon"),
            InactiveFile = Get(stat, "inactive_file"),
            ActiveFile = Get(stat, "active_file"),
            Unevictable = Get(stat, "unevictable"),
            SlabReclaimable = Get(stat, "slab_reclaimable"),
            SlabUnreclaimable = Get(stat, "slab_unreclaimable"),
            Pgfault = Get(stat, "pgfault"),
            Pgmajfault = Get(stat, "pgmajfault"),
            WorkingsetRefault = Workingset(stat, "workingset_refault"),
            WorkingsetActivate = Workingset(stat, "workingset_activate"),
            WorkingsetNodereclaim = Get(stat, "workingset_nodereclaim"),
            Pgrefill = Get(stat, "pgrefill"),
            Pgscan = Get(stat, "pgscan"),
            Pgsteal = Get(stat, "pgsteal"),
            Pgactivate = Get(stat, "pgactivate"),
            Pgdeactivate = Get(stat, "pgdeactivate"),
            Pglazyfree = Get(stat, "pglazyfree"),
            Pglazyfreed = Get(stat, "pglazyfreed"),
            ThpFaultAlloc = Get(stat, "thp_fault_alloc"),
            ThpCollapseAlloc = Get(stat, "thp_collapse_alloc"),
        };
        return result;
    }

    /// <summary>Linux 5.9 split workingset_refault and _activate into _anon and _file; the v2 Metrics keep the sum.</summary>
    private static ulong Workingset(MapField<string, ulong> stat, string key) =>
        stat.TryGetValue(key, out ulong value) ? value : Get(stat, key + "_anon") + Get(stat, key + "_file");

    /// <summary>The agent's v1 tables (bytes and operations, op Read/Write per device) back into io.stat's one line per device.</summary>
    private static IOStat MapIo(BlkioStats blkio)
    {
        var devices = new SortedDictionary<(ulong Major, ulong Minor), IOEntry>();
        IOEntry Device(BlkioStatsEntry e)
        {
            if (!devices.TryGetValue((e.Major, e.Minor), out var entry))
            {
                entry = new IOEntry { Major = e.Major, Minor = e.Minor };
                devices[(e.Major, e.Minor)] = entry;
            }
            return entry;
        }
        foreach (var e in blkio.IoServiceBytesRecursive)
        {
            if (IsOp(e, "read"))
            {
                Device(e).Rbytes += e.Value;
            }
            else if (IsOp(e, "write"))
            {
                Device(e).Wbytes += e.Value;
            }
        }
        foreach (var e in blkio.IoServicedRecursive)
        {
            if (IsOp(e, "read"))
            {
                Device(e).Rios += e.Value;
            }
            else if (IsOp(e, "write"))
            {
                Device(e).Wios += e.Value;
            }
        }
        var io = new IOStat();
        io.Usage.AddRange(devices.Values);
        return io;
    }

    private static bool IsOp(BlkioStatsEntry entry, string op) => string.Equals(entry.Op, op, StringComparison.OrdinalIgnoreCase);

    private static ulong Get(MapField<string, ulong> stat, string key) => stat.TryGetValue(key, out ulong value) ? value : 0;
}
