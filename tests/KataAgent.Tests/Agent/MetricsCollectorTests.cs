using System.Text.RegularExpressions;
using FluentAssertions;
using KataAgent.Agent.Guest.Metrics;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent;

public class MetricsCollectorTests
{
    [Fact]
    public void Fake_proc_values_come_out_under_katas_names()
    {
        using var proc = new TempDirectory();
        Directory.CreateDirectory(proc.File("self"));
        Directory.CreateDirectory(proc.File("net"));
        // pid (comm with spaces) state ppid ... ; utime=field 14, stime=15, cutime=16, cstime=17, threads=20, vsize=23, rss=24
        File.WriteAllText(proc.File("self/stat"), "42 (kata agent) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 3 4 20 0 7 0 100 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0");
        File.WriteAllText(proc.File("self/status"), "Name:\tkata-agent\nVmPeak:\t  2000 kB\nVmRSS:\t  1234 kB\nThreads:\t7\nvoluntary_ctxt_switches:\t55\n");
        File.WriteAllText(proc.File("self/io"), "rchar: 10\nwchar: 20\nsyscr: 3\n");
        File.WriteAllText(proc.File("loadavg"), "0.50 0.25 0.10 2/345 6789\n");
        File.WriteAllText(proc.File("stat"), "cpu  100 0 50 1000 5 0 1 0 0 0\ncpu0 100 0 50 1000 5 0 1 0 0 0\nintr 1 2\n");
        File.WriteAllText(proc.File("vmstat"), "nr_free_pages 1000\npgfault 77\n");
        File.WriteAllText(proc.File("net/dev"), "Inter-|   Receive  |  Transmit\n face |bytes packets|bytes\n    lo: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n");
        File.WriteAllText(proc.File("diskstats"), " 254 0 vda 11 0 22 33 44 0 55 66 0 77 88 0 0 0 0 0 0\n");
        File.WriteAllText(proc.File("meminfo"), "MemTotal:  1000 kB\nActive(anon):  10 kB\nHugePages_Total:  0\nSReclaimable:  5 kB\nDirectMap2M:  8 kB\nSomeNewField:  3 kB\n");

        var collector = new MetricsCollector(proc.Path);
        string first = collector.Collect();
        string text = collector.Collect();

        Value(first, "kata_agent_scrape_count").Should().Be(1);
        Value(text, "kata_agent_scrape_count").Should().Be(2);
        text.Should().Contain("# TYPE kata_agent_scrape_count counter");
        Value(text, "kata_agent_threads").Should().Be(7);
        Value(text, "kata_agent_total_vm").Should().Be(123456789);
        Value(text, "kata_agent_total_rss").Should().Be(300 * Environment.SystemPageSize);
        Value(text, "kata_agent_total_time").Should().BeApproximately(400.0 / 100, 1e-9);
        Value(text, "kata_agent_proc_stat{item=\"utime\"}").Should().Be(250);
        Value(text, "kata_agent_proc_stat{item=\"cstime\"}").Should().Be(4);
        Value(text, "kata_agent_proc_status{item=\"vmrss\"}").Should().Be(1234);
        Value(text, "kata_agent_proc_status{item=\"voluntary_ctxt_switches\"}").Should().Be(55);
        Value(text, "kata_agent_io_stat{item=\"wchar\"}").Should().Be(20);
        Value(text, "kata_guest_load{item=\"load5\"}").Should().Be(0.25);
        Value(text, "kata_guest_tasks{item=\"max\"}").Should().Be(345);
        Value(text, "kata_guest_cpu_time{cpu=\"total\",item=\"user\"}").Should().Be(1000);
        Value(text, "kata_guest_cpu_time{cpu=\"0\",item=\"system\"}").Should().Be(500);
        Value(text, "kata_guest_vm_stat{item=\"pgfault\"}").Should().Be(77);
        Value(text, "kata_guest_netdev_stat{interface=\"lo\",item=\"sent_bytes\"}").Should().Be(2000);
        Value(text, "kata_guest_diskstat{disk=\"vda\",item=\"sectors_read\"}").Should().Be(22);
        Value(text, "kata_guest_diskstat{disk=\"vda\",item=\"time_in_progress\"}").Should().Be(77);
        Value(text, "kata_guest_meminfo{item=\"mem_total\"}").Should().Be(1000 * 1024);
        Value(text, "kata_guest_meminfo{item=\"active_anon\"}").Should().Be(10 * 1024);
        Value(text, "kata_guest_meminfo{item=\"hugepages_total\"}").Should().Be(0);
        Value(text, "kata_guest_meminfo{item=\"s_reclaimable\"}").Should().Be(5 * 1024);
        Value(text, "kata_guest_meminfo{item=\"direct_map_2M\"}").Should().Be(8 * 1024);
        Value(text, "kata_guest_meminfo{item=\"some_new_field\"}").Should().Be(3 * 1024);
    }

    [Fact]
    public void Real_proc_gives_every_family_and_valid_exposition_lines()
    {
        string text = new MetricsCollector().Collect();
        foreach (string family in new[] { "kata_agent_threads", "kata_agent_total_rss", "kata_agent_proc_status", "kata_agent_io_stat", "kata_guest_load", "kata_guest_cpu_time", "kata_guest_meminfo", "kata_guest_netdev_stat", "kata_guest_vm_stat" })
        {
            text.Should().Contain($"# TYPE {family} ");
        }
        var sample = new Regex(@"^[a-z_]+(\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\})? [-+0-9.eE]+$|^# (HELP|TYPE) .+$");
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            sample.IsMatch(line).Should().BeTrue($"'{line}' should be a valid exposition line");
        }
        Value(text, "kata_guest_meminfo{item=\"mem_total\"}").Should().BeGreaterThan(0);
    }

    [Fact]
    public void Label_values_are_escaped()
    {
        string text = new PrometheusTextWriter().Sample("m", 1, ("l", "a\"b\\c\nd")).ToString();
        text.Should().Be("m{l=\"a\\\"b\\\\c\\nd\"} 1\n");
    }

    internal static double Value(string exposition, string series)
    {
        foreach (string line in exposition.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new KeyNotFoundException($"no sample {series} in:\n{exposition}");
    }
}
