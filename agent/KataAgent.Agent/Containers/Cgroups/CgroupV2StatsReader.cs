using System.Globalization;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// Reads a cgroup v2 directory into Kata's cgroup-v1-shaped <see cref="CgroupStats"/>. A part
/// whose files are missing (controller not enabled) is left unset, never an error.
/// </summary>
internal static class CgroupV2StatsReader
{
    public static CgroupStats Read(string directory)
    {
        var stats = new CgroupStats
        {
            CpuStats = ReadCpu(directory),
            MemoryStats = ReadMemory(directory),
            PidsStats = ReadPids(directory),
            BlkioStats = ReadBlkio(directory),
        };
        foreach (var (size, hugetlb) in ReadHugetlb(directory))
        {
            stats.HugetlbStats[size] = hugetlb;
        }
        return stats;
    }

    /// <summary>cpu.stat: *_usec counters become nanoseconds; no per-CPU usage exists in v2.</summary>
    public static CpuStats? ReadCpu(string directory)
    {
        var stat = CgroupFile.TryReadFlatKeyed(directory, "cpu.stat");
        if (stat is null)
        {
            return null;
        }
        return new CpuStats
        {
            CpuUsage = new CpuUsage
            {
                TotalUsage = Get(stat, "usage_usec") * 1000,
                UsageInUsermode = Get(stat, "user_usec") * 1000,
                UsageInKernelmode = Get(stat, "system_usec") * 1000,
            },
            ThrottlingData = new ThrottlingData
            {
                Periods = Get(stat, "nr_periods"),
                ThrottledPeriods = Get(stat, "nr_throttled"),
                ThrottledTime = Get(stat, "throttled_usec") * 1000,
            },
        };
    }

    /// <summary>
    /// memory.current/peak/max/events, memory.swap.current/peak/max/events and memory.stat.
    /// Unlimited ("max") reads as <see cref="ulong.MaxValue"/>, as Kata and runc report it.
    /// </summary>
    public static MemoryStats? ReadMemory(string directory)
    {
        ulong? current = CgroupFile.TryReadUInt64(directory, "memory.current");
        var stat = CgroupFile.TryReadFlatKeyed(directory, "memory.stat");
        if (current is null && stat is null)
        {
            return null;
        }
        var memory = new MemoryStats
        {
            // v2 is always hierarchical.
            UseHierarchy = true,
            Usage = new MemoryData
            {
                Usage = current ?? 0,
                MaxUsage = CgroupFile.TryReadUInt64(directory, "memory.peak") ?? 0,
                Limit = CgroupFile.TryReadUInt64(directory, "memory.max") ?? 0,
                Failcnt = CgroupFile.TryReadFlatKeyed(directory, "memory.events") is { } events ? Get(events, "max") : 0,
            },
        };
        if (CgroupFile.TryReadUInt64(directory, "memory.swap.current") is { } swapCurrent)
        {
            memory.SwapUsage = new MemoryData
            {
                Usage = swapCurrent,
                MaxUsage = CgroupFile.TryReadUInt64(directory, "memory.swap.peak") ?? 0,
                Limit = CgroupFile.TryReadUInt64(directory, "memory.swap.max") ?? 0,
                Failcnt = CgroupFile.TryReadFlatKeyed(directory, "memory.swap.events") is { } swapEvents ? Get(swapEvents, "fail") : 0,
            };
        }
        if (stat is not null)
        {
            memory.Cache = Get(stat, "file");
            if (stat.TryGetValue("kernel", out ulong kernel))
            {
                memory.KernelUsage = new MemoryData { Usage = kernel };
            }
            foreach (var (key, value) in stat)
            {
                memory.Stats[key] = value;
            }
        }
        return memory;
    }

    /// <summary>pids.current and pids.max ("max" → 0, as Kata reports no limit).</summary>
    public static PidsStats? ReadPids(string directory)
    {
        ulong? current = CgroupFile.TryReadUInt64(directory, "pids.current");
        if (current is null)
        {
            return null;
        }
        return new PidsStats
        {
            Current = current.Value,
            Limit = CgroupFile.TryReadUInt64(directory, "pids.max", max: 0) ?? 0,
        };
    }

    /// <summary>
    /// io.stat "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..": bytes go to
    /// io_service_bytes_recursive and operations to io_serviced_recursive, op "Read"/"Write"
    /// (runc's mapping to the v1 tables); discard counters have no v1 table and are dropped.
    /// </summary>
    public static BlkioStats? ReadBlkio(string directory)
    {
        string? text = CgroupFile.TryRead(directory, "io.stat");
        return text is null ? null : ParseIoStat(text);
    }

    public static BlkioStats ParseIoStat(string text)
    {
        var blkio = new BlkioStats();
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] device = fields[0].Split(':');
            if (device.Length != 2
                || !ulong.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong major)
                || !ulong.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong minor))
            {
                continue;
            }
            foreach (string field in fields.AsSpan(1))
            {
                int eq = field.IndexOf('=');
                if (eq <= 0 || !ulong.TryParse(field.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
                {
                    continue;
                }
                (Google.Protobuf.Collections.RepeatedField<BlkioStatsEntry>? table, string op) = field[..eq] switch
                {
                    "rbytes" => (blkio.IoServiceBytesRecursive, "Read"),
                    "wbytes" => (blkio.IoServiceBytesRecursive, "Write"),
                    "rios" => (blkio.IoServicedRecursive, "Read"),
                    "wios" => (blkio.IoServicedRecursive, "Write"),
                    _ => (null, ""),
                };
                table?.Add(new BlkioStatsEntry { Major = major, Minor = minor, Op = op, Value = value });
            }
        }
        return blkio;
    }

    /// <summary>
    /// Each hugetlb.&lt;size&gt;.current: usage from it, failcnt from hugetlb.&lt;size&gt;.events "max".
    /// v2 keeps no peak, so max_usage stays 0.
    /// </summary>
    public static IEnumerable<(string Size, HugetlbStats Stats)> ReadHugetlb(string directory)
    {
        IEnumerable<string> files;
        try
        {
            files = Directory.EnumerateFiles(directory, "hugetlb.*.current").ToList();
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }
        foreach (string file in files)
        {
            string name = Path.GetFileName(file);
            string size = name["hugetlb.".Length..^".current".Length];
            if (size.Contains('.'))
            {
                continue; // hugetlb.<size>.rsvd.current
            }
            if (CgroupFile.TryReadUInt64(directory, name) is not { } usage)
            {
                continue;
            }
            yield return (size, new HugetlbStats
            {
                Usage = usage,
                Failcnt = CgroupFile.TryReadFlatKeyed(directory, $"hugetlb.{size}.events") is { } events ? Get(events, "max") : 0,
            });
        }
    }

    private static ulong Get(Dictionary<string, ulong> values, string key) => values.TryGetValue(key, out ulong value) ? value : 0;
}
