using System.Globalization;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// The sandbox's statistics: the cgroup root the agent places containers under (the whole guest when the agent is
/// its PID 1), read as a container's cgroup is (<see cref="CgroupV2StatsReader"/>). The root cgroup has no
/// memory.current and no pids.current (the kernel keeps neither for the root), so those come from the kernel's
/// system-wide counters instead: memory in use is MemTotal − MemFree of /proc/meminfo (page cache included, as
/// memory.current counts it) against MemTotal as the limit, and the tasks are /proc/loadavg's count of scheduling
/// entities (threads, as pids.current counts them) with no limit. A part neither source has is left unset.
/// </summary>
internal static class SandboxStatsReader
{
    public static CgroupStats Read(string cgroupRoot, string procRoot = "/proc")
    {
        var stats = CgroupV2StatsReader.Read(cgroupRoot);
        if (CgroupFile.TryReadUInt64(cgroupRoot, "memory.current") is null && ReadMeminfo(procRoot) is { } meminfo
            && meminfo.TryGetValue("MemTotal", out ulong total) && meminfo.TryGetValue("MemFree", out ulong free))
        {
            stats.MemoryStats ??= new MemoryStats { UseHierarchy = true };
            stats.MemoryStats.Usage = new MemoryData { Usage = total - Math.Min(free, total), Limit = total };
            if (meminfo.TryGetValue("SwapTotal", out ulong swapTotal) && swapTotal > 0 && meminfo.TryGetValue("SwapFree", out ulong swapFree))
            {
                stats.MemoryStats.SwapUsage = new MemoryData { Usage = swapTotal - Math.Min(swapFree, swapTotal), Limit = swapTotal };
            }
        }
        if (stats.PidsStats is null && ReadTaskCount(procRoot) is { } tasks)
        {
            stats.PidsStats = new PidsStats { Current = tasks, Limit = 0 };
        }
        return stats;
    }

    /// <summary>/proc/meminfo in bytes ("MemTotal:  1014016 kB" → 1038352384), or null when it cannot be read.</summary>
    internal static Dictionary<string, ulong>? ReadMeminfo(string procRoot)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(procRoot, "meminfo"));
        }
        catch (IOException)
        {
            return null;
        }
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            string[] fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || !ulong.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
            {
                continue;
            }
            values[line[..colon]] = fields.Length > 1 && fields[1] == "kB" ? value * 1024 : value;
        }
        return values;
    }

    /// <summary>The fourth field of /proc/loadavg ("0.00 0.01 0.00 1/87 1234"): the number after the slash.</summary>
    internal static ulong? ReadTaskCount(string procRoot)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(procRoot, "loadavg"));
        }
        catch (IOException)
        {
            return null;
        }
        string[] fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 4)
        {
            return null;
        }
        int slash = fields[3].IndexOf('/');
        return slash > 0 && ulong.TryParse(fields[3].AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong count) ? count : null;
    }
}
