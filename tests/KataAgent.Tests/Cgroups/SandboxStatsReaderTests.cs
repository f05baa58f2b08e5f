using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>
/// <see cref="SandboxStatsReader"/> on a root cgroup as the guest kernel lays it out (cpu.stat, memory.stat and
/// io.stat, but no memory.current and no pids.current) and the /proc files it takes the rest from.
/// </summary>
public sealed class SandboxStatsReaderTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private string Cgroup => Directory.CreateDirectory(Path.Combine(_root.Path, "cgroup")).FullName;

    private string Proc => Directory.CreateDirectory(Path.Combine(_root.Path, "proc")).FullName;

    [Fact]
    public void The_root_cgroup_s_missing_memory_and_task_counts_come_from_meminfo_and_loadavg()
    {
        File.WriteAllText(Path.Combine(Cgroup, "cpu.stat"), "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n");
        File.WriteAllText(Path.Combine(Cgroup, "memory.stat"), "anon 4096\nfile 8192\n");
        File.WriteAllText(Path.Combine(Cgroup, "io.stat"), "254:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n");
        File.WriteAllText(Path.Combine(Proc, "meminfo"), "MemTotal:        1000 kB\nMemFree:          250 kB\nMemAvailable:     600 kB\nSwapTotal:          0 kB\nSwapFree:           0 kB\n");
        File.WriteAllText(Path.Combine(Proc, "loadavg"), "0.08 0.02 0.01 2/93 412\n");

        var stats = SandboxStatsReader.Read(Cgroup, Proc);

        stats.CpuStats.CpuUsage.TotalUsage.Should().Be(2_000_000);
        stats.MemoryStats.Usage.Usage.Should().Be(750 * 1024, "MemTotal − MemFree: what memory.current would count, page cache included");
        stats.MemoryStats.Usage.Limit.Should().Be(1000 * 1024);
        stats.MemoryStats.Stats.Should().Contain("file", 8192UL).And.Contain("anon", 4096UL);
        stats.MemoryStats.SwapUsage.Should().BeNull("a guest without swap has no swap usage to report");
        stats.PidsStats.Current.Should().Be(93);
        stats.PidsStats.Limit.Should().Be(0UL, "no limit");
        stats.BlkioStats.IoServiceBytesRecursive.Should().HaveCount(2);
    }

    [Fact]
    public void A_cgroup_with_its_own_counters_keeps_them()
    {
        File.WriteAllText(Path.Combine(Cgroup, "memory.current"), "12288\n");
        File.WriteAllText(Path.Combine(Cgroup, "memory.max"), "max\n");
        File.WriteAllText(Path.Combine(Cgroup, "pids.current"), "7\n");
        File.WriteAllText(Path.Combine(Proc, "meminfo"), "MemTotal:        1000 kB\nMemFree:          250 kB\n");
        File.WriteAllText(Path.Combine(Proc, "loadavg"), "0.08 0.02 0.01 2/93 412\n");

        var stats = SandboxStatsReader.Read(Cgroup, Proc);

        stats.MemoryStats.Usage.Usage.Should().Be(12288);
        stats.PidsStats.Current.Should().Be(7);
    }

    [Fact]
    public void Missing_files_leave_parts_unset_rather_than_failing()
    {
        var stats = SandboxStatsReader.Read(Cgroup, Proc);

        stats.CpuStats.Should().BeNull();
        stats.MemoryStats.Should().BeNull();
        stats.PidsStats.Should().BeNull();
    }
}
