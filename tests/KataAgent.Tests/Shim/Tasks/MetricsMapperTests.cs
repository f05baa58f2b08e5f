using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Containerd.CgroupsV2;
using KataAgent.Shim.Tasks;
using KataAgent.Tests.Infrastructure;
using Xunit;
using Metrics = KataAgent.Protocols.Containerd.CgroupsV2.Metrics;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>
/// <see cref="MetricsMapper"/> on what our agent really sends: a guest cgroup v2 directory (files in the kernel's
/// formats) read by the agent's own <see cref="CgroupV2StatsReader"/> into a StatsContainerResponse, then mapped to
/// containerd's io.containerd.cgroups.v2.Metrics, which must give back the numbers in the files.
/// </summary>
public sealed class MetricsMapperTests : IDisposable
{
    private readonly TempDirectory _cgroup = new();

    public void Dispose() => _cgroup.Dispose();

    private void Write(string name, string content) => File.WriteAllText(_cgroup.File(name), content);

    private StatsContainerResponse AgentStats() => new() { CgroupStats = CgroupV2StatsReader.Read(_cgroup.Path) };

    private void WriteGuestCgroup()
    {
        Write("cpu.stat", "usage_usec 8254303\nuser_usec 5116580\nsystem_usec 3137723\nnr_periods 120\nnr_throttled 7\nthrottled_usec 385123\n");
        Write("memory.current", "52531200\n");
        Write("memory.peak", "104857600\n");
        Write("memory.max", "268435456\n");
        Write("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        Write("memory.swap.current", "4096\n");
        Write("memory.swap.peak", "8192\n");
        Write("memory.swap.max", "max\n");
        Write("memory.swap.events", "high 0\nmax 0\nfail 2\n");
        Write("memory.stat",
            "anon 31002624\nfile 19685376\nkernel 1789952\nkernel_stack 131072\nsock 4096\nshmem 8192\nfile_mapped 9318400\n" +
            "file_dirty 12288\nfile_writeback 16384\nanon_thp 2097152\ninactive_anon 30965760\nactive_anon 36864\n" +
            "inactive_file 10932224\nactive_file 8753152\nunevictable 20480\nslab_reclaimable 696112\nslab_unreclaimable 393072\n" +
            "slab 1089184\nworkingset_refault_anon 5\nworkingset_refault_file 7\nworkingset_activate_anon 1\nworkingset_activate_file 2\n" +
            "workingset_nodereclaim 3\npgfault 19371\npgmajfault 243\npgrefill 11\npgscan 12\npgsteal 13\npgactivate 14\n" +
            "pgdeactivate 15\npglazyfree 16\npglazyfreed 17\nthp_fault_alloc 18\nthp_collapse_alloc 19\n");
        Write("pids.current", "3\n");
        Write("pids.max", "100\n");
        Write("io.stat", "253:1 rbytes=90112 wbytes=4096 rios=22 wios=1 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
        Write("hugetlb.2MB.current", "2097152\n");
        Write("hugetlb.2MB.events", "max 5\n");
        Write("hugetlb.1GB.current", "0\n");
    }

    [Fact]
    public void Cpu_time_comes_back_in_microseconds_with_user_and_system_apart()
    {
        WriteGuestCgroup();

        var cpu = MetricsMapper.ToMetrics(AgentStats()).Cpu;

        cpu.Should().Be(new CPUStat { UsageUsec = 8254303, UserUsec = 5116580, SystemUsec = 3137723, NrPeriods = 120, NrThrottled = 7, ThrottledUsec = 385123 });
    }

    [Fact]
    public void Memory_usage_limits_peaks_and_every_memory_stat_key_are_carried()
    {
        WriteGuestCgroup();

        var memory = MetricsMapper.ToMetrics(AgentStats()).Memory;

        memory.Usage.Should().Be(52531200);
        memory.UsageLimit.Should().Be(268435456);
        memory.MaxUsage.Should().Be(104857600);
        memory.SwapUsage.Should().Be(4096);
        memory.SwapLimit.Should().Be(ulong.MaxValue, "memory.swap.max 'max' is unlimited, as containerd's cgroups reads it");
        memory.SwapMaxUsage.Should().Be(8192);
        memory.Should().BeEquivalentTo(new MemoryStat
        {
            Anon = 31002624, File = 19685376, KernelStack = 131072, Sock = 4096, Shmem = 8192, FileMapped = 9318400,
            FileDirty = 12288, FileWriteback = 16384, AnonThp = 2097152, InactiveAnon = 30965760, ActiveAnon = 36864,
            InactiveFile = 10932224, ActiveFile = 8753152, Unevictable = 20480, SlabReclaimable = 696112,
            SlabUnreclaimable = 393072, Slab = 1089184, WorkingsetRefault = 12, WorkingsetActivate = 3,
            WorkingsetNodereclaim = 3, Pgfault = 19371, Pgmajfault = 243, Pgrefill = 11, Pgscan = 12, Pgsteal = 13,
            Pgactivate = 14, Pgdeactivate = 15, Pglazyfree = 16, Pglazyfreed = 17, ThpFaultAlloc = 18, ThpCollapseAlloc = 19,
            Usage = 52531200, UsageLimit = 268435456, MaxUsage = 104857600, SwapUsage = 4096, SwapLimit = ulong.MaxValue, SwapMaxUsage = 8192,
        });
    }

    [Fact]
    public void A_kernel_before_the_workingset_split_gives_its_own_counters()
    {
        Write("memory.current", "1\n");
        Write("memory.stat", "workingset_refault 40\nworkingset_activate 30\nworkingset_refault_anon 1\n");

        var memory = MetricsMapper.ToMetrics(AgentStats()).Memory;

        memory.WorkingsetRefault.Should().Be(40);
        memory.WorkingsetActivate.Should().Be(30);
    }

    [Fact]
    public void Io_comes_back_as_one_entry_per_device_with_bytes_and_operations()
    {
        WriteGuestCgroup();

        var io = MetricsMapper.ToMetrics(AgentStats()).Io;

        io.Usage.Should().Equal(
            new IOEntry { Major = 8, Minor = 0, Rbytes = 1, Wbytes = 2, Rios = 3, Wios = 4 },
            new IOEntry { Major = 253, Minor = 1, Rbytes = 90112, Wbytes = 4096, Rios = 22, Wios = 1 });
    }

    [Fact]
    public void Pids_and_hugetlb_are_carried()
    {
        WriteGuestCgroup();

        var metrics = MetricsMapper.ToMetrics(AgentStats());

        metrics.Pids.Should().Be(new PidsStat { Current = 3, Limit = 100 });
        metrics.Hugetlb.Should().Equal(
            new HugeTlbStat { Pagesize = "1GB", Current = 0 },
            new HugeTlbStat { Pagesize = "2MB", Current = 2097152 });
    }

    [Fact]
    public void Controllers_the_guest_did_not_enable_stay_unset()
    {
        Write("pids.current", "1\n");

        var metrics = MetricsMapper.ToMetrics(AgentStats());

        metrics.Pids.Current.Should().Be(1);
        metrics.Cpu.Should().BeNull();
        metrics.Memory.Should().BeNull();
        metrics.Io.Should().BeNull();
        metrics.Hugetlb.Should().BeEmpty();
        metrics.MemoryEvents.Should().BeNull("the agent carries no oom or oom_kill counts");
        MetricsMapper.ToMetrics(new StatsContainerResponse()).Should().Be(new Metrics());
    }

    [Fact]
    public void The_any_has_containerds_bare_type_url_and_decodes_back()
    {
        WriteGuestCgroup();
        var stats = AgentStats();

        var any = MetricsMapper.ToAny(stats);

        any.TypeUrl.Should().Be("io.containerd.cgroups.v2.Metrics");
        Metrics.Parser.ParseFrom(any.Value).Should().Be(MetricsMapper.ToMetrics(stats));
    }
}
