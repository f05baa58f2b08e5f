using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Protocols.Agent;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>Stats parsed from fake files in the kernel's formats (Documentation/admin-guide/cgroup-v2.rst).</summary>
public sealed class CgroupV2StatsTests : IDisposable
{
    private readonly FakeCgroupTree _tree = new();

    public void Dispose() => _tree.Dispose();

    private void WriteRealisticFiles()
    {
        _tree.WriteLeaf("cpu.stat",
            "usage_usec 8254303\nuser_usec 5116580\nsystem_usec 3137723\ncore_sched.force_idle_usec 0\n" +
            "nr_periods 120\nnr_throttled 7\nthrottled_usec 385123\nnr_bursts 0\nburst_usec 0\n");
        _tree.WriteLeaf("memory.current", "52531200\n");
        _tree.WriteLeaf("memory.peak", "104857600\n");
        _tree.WriteLeaf("memory.max", "268435456\n");
        _tree.WriteLeaf("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
        _tree.WriteLeaf("memory.swap.current", "4096\n");
        _tree.WriteLeaf("memory.swap.peak", "8192\n");
        _tree.WriteLeaf("memory.swap.max", "max\n");
        _tree.WriteLeaf("memory.swap.events", "high 0\nmax 0\nfail 2\n");
        _tree.WriteLeaf("memory.stat",
            "anon 31002624\nfile 19685376\nkernel 1789952\nkernel_stack 131072\npagetables 442368\n" +
            "sec_pagetables 0\npercpu 0\nsock 0\nvmalloc 0\nshmem 0\nzswap 0\nzswapped 0\nfile_mapped 9318400\n" +
            "file_dirty 0\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\n" +
            "inactive_anon 30965760\nactive_anon 36864\ninactive_file 10932224\nactive_file 8753152\n" +
            "unevictable 0\nslab_reclaimable 696112\nslab_unreclaimable 393072\nslab 1089184\n" +
            "workingset_refault_anon 0\nworkingset_refault_file 0\npgfault 19371\npgmajfault 243\n");
        _tree.WriteLeaf("pids.current", "3\n");
        _tree.WriteLeaf("pids.max", "100\n");
        _tree.WriteLeaf("io.stat",
            "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n" +
            "253:1 rbytes=90112 wbytes=4096 rios=22 wios=1 dbytes=0 dios=0\n");
        _tree.WriteLeaf("hugetlb.2MB.current", "2097152\n");
        _tree.WriteLeaf("hugetlb.2MB.events", "max 5\n");
        _tree.WriteLeaf("hugetlb.2MB.rsvd.current", "4194304\n");
        _tree.WriteLeaf("hugetlb.1GB.current", "0\n");
        _tree.WriteLeaf("hugetlb.1GB.events", "max 0\n");
    }

    [Fact]
    public void Cpu_stat_becomes_nanoseconds_and_throttling_data()
    {
        WriteRealisticFiles();
        var cpu = _tree.Manager().Stats().CpuStats;
        cpu.CpuUsage.TotalUsage.Should().Be(8254303000UL);
        cpu.CpuUsage.UsageInUsermode.Should().Be(5116580000UL);
        cpu.CpuUsage.UsageInKernelmode.Should().Be(3137723000UL);
        cpu.CpuUsage.PercpuUsage.Should().BeEmpty("cgroup v2 has no per-CPU usage");
        cpu.ThrottlingData.Periods.Should().Be(120);
        cpu.ThrottlingData.ThrottledPeriods.Should().Be(7);
        cpu.ThrottlingData.ThrottledTime.Should().Be(385123000UL);
    }

    [Fact]
    public void Memory_files_map_to_usage_swap_cache_and_the_raw_stat_map()
    {
        WriteRealisticFiles();
        var memory = _tree.Manager().Stats().MemoryStats;
        memory.Usage.Usage.Should().Be(52531200);
        memory.Usage.MaxUsage.Should().Be(104857600);
        memory.Usage.Limit.Should().Be(268435456);
        memory.Usage.Failcnt.Should().Be(3, "memory.events 'max' counts hits of the limit");
        memory.SwapUsage.Usage.Should().Be(4096);
        memory.SwapUsage.MaxUsage.Should().Be(8192);
        memory.SwapUsage.Limit.Should().Be(ulong.MaxValue, "'max' is unlimited");
        memory.SwapUsage.Failcnt.Should().Be(2);
        memory.Cache.Should().Be(19685376, "cache is memory.stat 'file'");
        memory.KernelUsage.Usage.Should().Be(1789952);
        memory.UseHierarchy.Should().BeTrue();
        memory.Stats.Should().HaveCount(31);
        memory.Stats["anon"].Should().Be(31002624);
        memory.Stats["pgmajfault"].Should().Be(243);
    }

    [Fact]
    public void Unlimited_memory_reads_as_the_largest_value()
    {
        WriteRealisticFiles();
        _tree.WriteLeaf("memory.max", "max\n");
        _tree.Manager().Stats().MemoryStats.Usage.Limit.Should().Be(ulong.MaxValue);
    }

    [Fact]
    public void Pids_current_and_limit_with_max_as_zero()
    {
        WriteRealisticFiles();
        var manager = _tree.Manager();
        manager.Stats().PidsStats.Should().BeEquivalentTo(new PidsStats { Current = 3, Limit = 100 });
        _tree.WriteLeaf("pids.max", "max\n");
        manager.Stats().PidsStats.Limit.Should().Be(0);
    }

    [Fact]
    public void Io_stat_maps_bytes_and_operations_to_the_v1_tables()
    {
        WriteRealisticFiles();
        var blkio = _tree.Manager().Stats().BlkioStats;
        blkio.IoServiceBytesRecursive.Select(e => (e.Major, e.Minor, e.Op, e.Value)).Should().Equal(
            (8UL, 0UL, "Read", 1UL), (8UL, 0UL, "Write", 2UL), (253UL, 1UL, "Read", 90112UL), (253UL, 1UL, "Write", 4096UL));
        blkio.IoServicedRecursive.Select(e => (e.Major, e.Minor, e.Op, e.Value)).Should().Equal(
            (8UL, 0UL, "Read", 3UL), (8UL, 0UL, "Write", 4UL), (253UL, 1UL, "Read", 22UL), (253UL, 1UL, "Write", 1UL));
        blkio.IoQueuedRecursive.Should().BeEmpty();
    }

    [Fact]
    public void Hugetlb_sizes_come_from_their_current_files()
    {
        WriteRealisticFiles();
        var hugetlb = _tree.Manager().Stats().HugetlbStats;
        hugetlb.Keys.Should().BeEquivalentTo("2MB", "1GB");
        hugetlb["2MB"].Usage.Should().Be(2097152);
        hugetlb["2MB"].Failcnt.Should().Be(5);
        hugetlb["1GB"].Usage.Should().Be(0);
    }

    [Fact]
    public void Missing_controller_files_leave_their_part_unset()
    {
        foreach (string file in Directory.GetFiles(_tree.Leaf))
        {
            File.Delete(file);
        }
        _tree.WriteLeaf("cgroup.procs", "");
        var stats = _tree.Manager().Stats();
        stats.CpuStats.Should().BeNull();
        stats.MemoryStats.Should().BeNull();
        stats.PidsStats.Should().BeNull();
        stats.BlkioStats.Should().BeNull();
        stats.HugetlbStats.Should().BeEmpty();
    }

    [Fact]
    public void Stats_of_a_cgroup_that_does_not_exist_is_an_error()
    {
        var stats = () => new CgroupV2Manager("kata/none", _tree.Root).Stats();
        stats.Should().Throw<CgroupException>().WithMessage("*kata/none*does not exist*");
    }

    [Fact]
    public void Garbled_lines_are_skipped()
    {
        var blkio = CgroupV2StatsReader.ParseIoStat("garbage\n8:x rbytes=1\n8:0 rbytes=oops wbytes=7 newkey=3\n");
        blkio.IoServiceBytesRecursive.Should().ContainSingle().Which.Value.Should().Be(7);
    }
}
