using System.Globalization;
using KataAgent.Agent.Interop;

namespace KataAgent.Agent.Guest.Metrics;

/// <summary>
/// GetMetrics: the agent's own process figures (<c>kata_agent_*</c>) and the guest's /proc figures
/// (<c>kata_guest_*</c>) in Prometheus text, with the metric and label names of Kata's agent so
/// kata-monitor dashboards keep working. Every source is read fresh per scrape; a source that
/// cannot be read is left out rather than failing the scrape.
/// </summary>
public sealed class MetricsCollector(string procRoot = "/proc")
{
    private static readonly double TicksPerSecond = Math.Max(1, AgentLibc.Sysconf(AgentLibc._SC_CLK_TCK));
    private static readonly double PageSize = Math.Max(1, AgentLibc.Sysconf(AgentLibc._SC_PAGESIZE));
    private long _scrapes;

    /// <summary>Builds one scrape.</summary>
    public string Collect()
    {
        long scrapes = Interlocked.Increment(ref _scrapes);
        var w = new PrometheusTextWriter();
        w.Family("kata_agent_scrape_count", "Metrics scrape count", "counter").Sample("kata_agent_scrape_count", scrapes);
        WriteAgentProcess(w);
        WriteGuest(w);
        return w.ToString();
    }

    private void WriteAgentProcess(PrometheusTextWriter w)
    {
        if (Read("self/stat") is { } statText)
        {
            // Fields after the parenthesised command name, which may itself hold spaces or ')'.
            string[] f = statText[(statText.LastIndexOf(')') + 2)..].Split(' ');
            // f[0] is field 3 (state): field N is f[N - 3].
            double utime = Number(f[11]), stime = Number(f[12]), cutime = Number(f[13]), cstime = Number(f[14]);
            w.Family("kata_agent_threads", "Agent process threads").Sample("kata_agent_threads", Number(f[17]));
            w.Family("kata_agent_total_time", "Agent process total time").Sample("kata_agent_total_time", (utime + stime) / TicksPerSecond);
            w.Family("kata_agent_total_vm", "Agent process total VM size").Sample("kata_agent_total_vm", Number(f[20]));
            w.Family("kata_agent_total_rss", "Agent process total RSS size").Sample("kata_agent_total_rss", Number(f[21]) * PageSize);
            w.Family("kata_agent_proc_stat", "Agent process statistics.");
            w.Sample("kata_agent_proc_stat", utime, ("item", "utime"));
            w.Sample("kata_agent_proc_stat", stime, ("item", "stime"));
            w.Sample("kata_agent_proc_stat", cutime, ("item", "cutime"));
            w.Sample("kata_agent_proc_stat", cstime, ("item", "cstime"));
        }

        if (Read("self/status") is { } status)
        {
            w.Family("kata_agent_proc_status", "Agent process status.");
            foreach (var (key, value) in KeyValues(status, ':'))
            {
                string? item = key switch
                {
                    "VmPeak" or "VmSize" or "VmLck" or "VmPin" or "VmHWM" or "VmRSS" or "RssAnon" or "RssFile" or "RssShmem"
                        or "VmData" or "VmStk" or "VmExe" or "VmLib" or "VmPTE" or "VmSwap" or "HugetlbPages" => key.ToLowerInvariant(),
                    "voluntary_ctxt_switches" or "nonvoluntary_ctxt_switches" => key,
                    _ => null,
                };
                if (item is not null && FirstNumber(value) is { } number)
                {
                    w.Sample("kata_agent_proc_status", number, ("item", item));
                }
            }
        }

        if (Read("self/io") is { } io)
        {
            w.Family("kata_agent_io_stat", "Agent process IO statistics.");
            foreach (var (key, value) in KeyValues(io, ':'))
            {
                if (FirstNumber(value) is { } number)
                {
                    w.Sample("kata_agent_io_stat", number, ("item", key));
                }
            }
        }
    }

    private void WriteGuest(PrometheusTextWriter w)
    {
        if (Read("loadavg") is { } loadavg)
        {
            string[] f = loadavg.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            w.Family("kata_guest_load", "Guest system load.");
            w.Sample("kata_guest_load", Number(f[0]), ("item", "load1"));
            w.Sample("kata_guest_load", Number(f[1]), ("item", "load5"));
            w.Sample("kata_guest_load", Number(f[2]), ("item", "load15"));
            string[] tasks = f[3].Split('/');
            w.Family("kata_guest_tasks", "Guest system load.");
            w.Sample("kata_guest_tasks", Number(tasks[0]), ("item", "cur"));
            w.Sample("kata_guest_tasks", Number(tasks[1]), ("item", "max"));
        }

        if (Read("stat") is { } stat)
        {
            w.Family("kata_guest_cpu_time", "Guest CPU statistics.");
            string[] items = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"];
            foreach (string line in stat.Split('\n'))
            {
                if (!line.StartsWith("cpu", StringComparison.Ordinal))
                {
                    continue;
                }
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string cpu = f[0] == "cpu" ? "total" : f[0][3..];
                for (int i = 0; i < items.Length && i + 1 < f.Length; i++)
                {
                    w.Sample("kata_guest_cpu_time", Number(f[i + 1]) * 1000 / TicksPerSecond, ("cpu", cpu), ("item", items[i]));
                }
            }
        }

        if (Read("vmstat") is { } vmstat)
        {
            w.Family("kata_guest_vm_stat", "Guest virtual memory statistics.");
            foreach (var (key, value) in KeyValues(vmstat, ' '))
            {
                w.Sample("kata_guest_vm_stat", Number(value), ("item", key));
            }
        }

        if (Read("net/dev") is { } netdev)
        {
            w.Family("kata_guest_netdev_stat", "Guest net devices statistics.");
            string[] items = ["recv_bytes", "recv_packets", "recv_errs", "recv_drop", "recv_fifo", "recv_frame", "recv_compressed", "recv_multicast",
                "sent_bytes", "sent_packets", "sent_errs", "sent_drop", "sent_fifo", "sent_colls", "sent_carrier", "sent_compressed"];
            foreach (string line in netdev.Split('\n').Skip(2))
            {
                int colon = line.IndexOf(':');
                if (colon < 0)
                {
                    continue;
                }
                string name = line[..colon].Trim();
                string[] f = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (int i = 0; i < items.Length && i < f.Length; i++)
                {
                    w.Sample("kata_guest_netdev_stat", Number(f[i]), ("interface", name), ("item", items[i]));
                }
            }
        }

        if (Read("diskstats") is { } diskstats)
        {
            w.Family("kata_guest_diskstat", "Disks statistics in system.");
            string[] items = ["reads", "merged", "sectors_read", "time_reading", "writes", "writes_merged", "sectors_written", "time_writing",
                "in_progress", "time_in_progress", "weighted_time_in_progress", "discards", "discards_merged", "sectors_discarded", "time_discarding",
                "flushes", "time_flushing"];
            foreach (string line in diskstats.Split('\n'))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 14)
                {
                    continue;
                }
                for (int i = 0; i < items.Length && i + 3 < f.Length; i++)
                {
                    w.Sample("kata_guest_diskstat", Number(f[i + 3]), ("disk", f[2]), ("item", items[i]));
                }
            }
        }

        if (Read("meminfo") is { } meminfo)
        {
            w.Family("kata_guest_meminfo", "Statistics about memory usage in the system.");
            foreach (var (key, value) in KeyValues(meminfo, ':'))
            {
                string[] parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 0)
                {
                    continue;
                }
                double number = Number(parts[0]) * (parts.Length > 1 && parts[1] == "kB" ? 1024 : 1);
                w.Sample("kata_guest_meminfo", number, ("item", MeminfoItem(key)));
            }
        }
    }

    /// <summary>Kata's item names for /proc/meminfo keys (procfs crate field names); snake_case otherwise.</summary>
    public static string MeminfoItem(string key) => key switch
    {
        "MemTotal" => "mem_total",
        "MemFree" => "mem_free",
        "MemAvailable" => "mem_available",
        "SwapCached" => "swap_cached",
        "Active(anon)" => "active_anon",
        "Inactive(anon)" => "inactive_anon",
        "Active(file)" => "active_file",
        "Inactive(file)" => "inactive_file",
        "HighTotal" => "high_total",
        "HighFree" => "high_free",
        "LowTotal" => "low_total",
        "LowFree" => "low_free",
        "MmapCopy" => "mmap_copy",
        "SwapTotal" => "swap_total",
        "SwapFree" => "swap_free",
        "AnonPages" => "anon_pages",
        "SReclaimable" => "s_reclaimable",
        "SUnreclaim" => "s_unreclaim",
        "KernelStack" => "kernel_stack",
        "PageTables" => "page_tables",
        "NFS_Unstable" => "nfs_unstable",
        "WritebackTmp" => "writeback_tmp",
        "CommitLimit" => "commit_limit",
        "Committed_AS" => "committed_as",
        "VmallocTotal" => "vmalloc_total",
        "VmallocUsed" => "vmalloc_used",
        "VmallocChunk" => "vmalloc_chunk",
        "HardwareCorrupted" => "hardware_corrupted",
        "AnonHugePages" => "anon_hugepages",
        "ShmemHugePages" => "shmem_hugepages",
        "ShmemPmdMapped" => "shmem_pmd_mapped",
        "CmaTotal" => "cma_total",
        "CmaFree" => "cma_free",
        "HugePages_Total" => "hugepages_total",
        "HugePages_Free" => "hugepages_free",
        "HugePages_Rsvd" => "hugepages_rsvd",
        "HugePages_Surp" => "hugepages_surp",
        "Hugepagesize" => "hugepagesize",
        "DirectMap4k" => "direct_map_4k",
        "DirectMap4M" => "direct_map_4M",
        "DirectMap2M" => "direct_map_2M",
        "DirectMap1G" => "direct_map_1G",
        "Percpu" => "per_cpu",
        "KReclaimable" => "k_reclaimable",
        _ => SnakeCase(key),
    };

    private static string SnakeCase(string key)
    {
        var builder = new System.Text.StringBuilder(key.Length + 8);
        for (int i = 0; i < key.Length; i++)
        {
            char c = key[i];
            if (char.IsAsciiLetterUpper(c))
            {
                if (i > 0 && builder[^1] != '_' && !char.IsAsciiLetterUpper(key[i - 1]))
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else if (char.IsAsciiLetterOrDigit(c))
            {
                builder.Append(c);
            }
            else if (builder.Length > 0 && builder[^1] != '_')
            {
                builder.Append('_');
            }
        }
        return builder.ToString().TrimEnd('_');
    }

    private string? Read(string relativePath)
    {
        try
        {
            return File.ReadAllText(Path.Combine(procRoot, relativePath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IEnumerable<(string Key, string Value)> KeyValues(string text, char separator)
    {
        foreach (string line in text.Split('\n'))
        {
            int at = line.IndexOf(separator);
            if (at > 0)
            {
                yield return (line[..at].Trim(), line[(at + 1)..].Trim());
            }
        }
    }

    private static double? FirstNumber(string value)
    {
        string first = value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) ? number : null;
    }

    private static double Number(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) ? number : double.NaN;
}
