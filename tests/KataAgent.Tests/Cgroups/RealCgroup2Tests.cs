using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Protocols.Agent;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>
/// The manager on the machine's real cgroup2 hierarchy (found in /proc/self/mountinfo): on a
/// hybrid host it has no memory/cpu/io/pids controllers, so these tests cover the core files
/// (cgroup.procs, cgroup.freeze, cgroup.events, cgroup.kill) plus whatever controllers the
/// hierarchy does offer. Each test uses its own kataagent-test-&lt;guid&gt;/ctr cgroup.
/// </summary>
[Collection(RealCgroup2Collection.Name)]
public sealed class RealCgroup2Tests : IAsyncLifetime
{
    private readonly string _mount;
    private readonly string _parent = $"kataagent-test-{Guid.NewGuid():N}";
    private readonly CgroupV2Manager _manager;
    private readonly List<SleepProcess> _processes = [];

    public RealCgroup2Tests()
    {
        _mount = Cgroup2Mount.Find() ?? throw new InvalidOperationException("no cgroup2 mount in /proc/self/mountinfo");
        _manager = new CgroupV2Manager($"{_parent}/ctr", _mount);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
        try
        {
            _manager.Destroy();
        }
        catch (CgroupException)
        {
        }
        int errno = CgroupFile.RemoveDirectory(Path.Combine(_mount, _parent));
        errno.Should().BeOneOf([0, 2], "the test cgroup must not be left behind (0 = removed, 2 = ENOENT: never made)");
    }

    private SleepProcess Start(SleepProcess? process = null)
    {
        process ??= new SleepProcess();
        _processes.Add(process);
        return process;
    }

    private HashSet<string> Controllers(string directory) =>
        File.ReadAllText(Path.Combine(directory, "cgroup.controllers")).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).ToHashSet();

    private static async Task<bool> Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }
            await Task.Delay(20);
        }
        return condition();
    }

    private string ProcCgroup(int pid) =>
        File.ReadAllLines($"/proc/{pid}/cgroup").Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];

    [Fact]
    public void Create_makes_the_cgroup_with_every_wanted_controller_the_root_offers()
    {
        _manager.Create();
        _manager.Create();

        Directory.Exists(_manager.CgroupDirectory).Should().BeTrue();
        var expected = Controllers(_mount).Intersect(CgroupV2Manager.Controllers);
        Controllers(_manager.CgroupDirectory).Should().Contain(expected, "Create enables them in each ancestor's subtree_control");
        File.Exists(Path.Combine(_manager.CgroupDirectory, "cgroup.freeze")).Should().BeTrue();
    }

    [Fact]
    public async Task A_process_added_is_listed_frozen_thawed_killed_and_the_cgroup_destroyed()
    {
        _manager.Create();
        var sleeper = Start();

        _manager.AddProcess(sleeper.Pid);
        _manager.Pids().Should().Equal(sleeper.Pid);
        ProcCgroup(sleeper.Pid).Should().Be($"/{_parent}/ctr");

        _manager.Freeze();
        File.ReadAllText(Path.Combine(_manager.CgroupDirectory, "cgroup.events")).Should().Contain("frozen 1");
        _manager.IsFrozen().Should().BeTrue();
        _manager.Thaw();
        File.ReadAllText(Path.Combine(_manager.CgroupDirectory, "cgroup.events")).Should().Contain("frozen 0");

        _manager.Kill();
        (await sleeper.WaitForExitAsync(TimeSpan.FromSeconds(5))).Should().BeTrue("cgroup.kill SIGKILLs the process");
        _manager.Pids().Should().BeEmpty();

        _manager.Destroy();
        Directory.Exists(_manager.CgroupDirectory).Should().BeFalse();
        Directory.Exists(Path.Combine(_mount, _parent)).Should().BeTrue("only the leaf is removed");
        _manager.Destroy();
    }

    [Fact]
    public async Task A_frozen_process_gets_no_cpu_time_until_thawed()
    {
        _manager.Create();
        var spinner = Start(SleepProcess.Busy());
        _manager.AddProcess(spinner.Pid);
        await Task.Delay(200);

        _manager.Freeze();
        long frozenAt = spinner.UserTicks();
        await Task.Delay(400);
        spinner.UserTicks().Should().Be(frozenAt, "a frozen process does not run");

        _manager.Thaw();
        (await Eventually(() => spinner.UserTicks() > frozenAt)).Should().BeTrue("a thawed process spins again");
    }

    [Fact]
    public async Task Destroy_kills_what_is_left_including_child_cgroups_and_frozen_processes()
    {
        _manager.Create();
        var first = Start();
        var second = Start();
        _manager.AddProcess(first.Pid);
        // A cgroup the workload made for itself (plain mkdir: no controllers, so no internal-process conflict).
        string nested = Path.Combine(_manager.CgroupDirectory, "nested");
        Directory.CreateDirectory(nested);
        File.WriteAllText(Path.Combine(nested, "cgroup.procs"), second.Pid.ToString());
        _manager.Freeze();

        _manager.Destroy();

        Directory.Exists(_manager.CgroupDirectory).Should().BeFalse();
        (await first.WaitForExitAsync(TimeSpan.FromSeconds(5))).Should().BeTrue();
        (await second.WaitForExitAsync(TimeSpan.FromSeconds(5))).Should().BeTrue();
    }

    [Fact]
    public void Adding_a_process_that_does_not_exist_names_cgroup_procs()
    {
        _manager.Create();
        var add = () => _manager.AddProcess(int.MaxValue - 1);
        add.Should().Throw<CgroupException>().Where(e => e.FilePath!.EndsWith("/cgroup.procs") && e.Message.Contains("ESRCH"));
    }

    [Fact]
    public void Memory_limits_are_written_where_the_controller_exists_and_refused_by_name_where_not()
    {
        _manager.Create();
        var apply = () => _manager.Apply(new LinuxResources { Memory = new LinuxMemory { Limit = 256L << 20 } });
        if (Controllers(_manager.CgroupDirectory).Contains("memory"))
        {
            apply();
            File.ReadAllText(Path.Combine(_manager.CgroupDirectory, "memory.max")).Trim().Should().Be("268435456");
        }
        else
        {
            apply.Should().Throw<CgroupException>()
                .Where(e => e.Controller == "memory" && e.Message.Contains("memory.max") && e.Message.Contains("'memory' controller is not available"));
        }
    }

    [Fact]
    public void A_hugetlb_limit_reaches_the_kernel_when_hugetlb_is_on_the_unified_hierarchy()
    {
        _manager.Create();
        bool twoMegabytePages = Directory.Exists("/sys/kernel/mm/hugepages/hugepages-2048kB");
        var apply = () => _manager.Apply(new LinuxResources { HugepageLimits = { new LinuxHugepageLimit { Pagesize = "2MB", Limit = 4L << 20 } } });
        if (Controllers(_manager.CgroupDirectory).Contains("hugetlb") && twoMegabytePages)
        {
            apply();
            File.ReadAllText(Path.Combine(_manager.CgroupDirectory, "hugetlb.2MB.max")).Trim().Should().Be("4194304");
            _manager.Stats().HugetlbStats.Should().ContainKey("2MB").WhoseValue.Usage.Should().Be(0);
        }
        else
        {
            apply.Should().Throw<CgroupException>().Where(e => e.Controller == "hugetlb");
        }
    }

    [Fact]
    public async Task Stats_report_the_cpu_time_of_the_processes_and_leave_absent_controllers_unset()
    {
        _manager.Create();
        var spinner = Start(SleepProcess.Busy());
        _manager.AddProcess(spinner.Pid);
        (await Eventually(() => _manager.Stats().CpuStats.CpuUsage.TotalUsage > 20_000_000UL))
            .Should().BeTrue("the spinning process accumulates CPU time, reported in nanoseconds");

        _manager.Freeze(); // nothing runs, so the counters hold still
        var cpuStat = File.ReadAllLines(Path.Combine(_manager.CgroupDirectory, "cpu.stat"))
            .Select(l => l.Split(' ')).ToDictionary(f => f[0], f => ulong.Parse(f[1]));
        var stats = _manager.Stats();
        stats.CpuStats.CpuUsage.TotalUsage.Should().Be(cpuStat["usage_usec"] * 1000);
        stats.CpuStats.CpuUsage.UsageInUsermode.Should().Be(cpuStat["user_usec"] * 1000).And.BeGreaterThan(0);
        stats.CpuStats.CpuUsage.UsageInKernelmode.Should().Be(cpuStat["system_usec"] * 1000);
        bool memory = File.Exists(Path.Combine(_manager.CgroupDirectory, "memory.current"));
        (stats.MemoryStats is not null).Should().Be(memory);
        bool pids = File.Exists(Path.Combine(_manager.CgroupDirectory, "pids.current"));
        (stats.PidsStats is not null).Should().Be(pids);
        if (pids)
        {
            stats.PidsStats!.Current.Should().Be(1);
        }
    }

    [Fact]
    public void Watching_for_OOM_needs_memory_events_from_the_memory_controller()
    {
        _manager.Create();
        var watch = () => _manager.WatchOom("ctr", _ => { });
        if (File.Exists(Path.Combine(_manager.CgroupDirectory, "memory.events")))
        {
            using var watcher = watch();
            watcher.IsRunning.Should().BeTrue();
        }
        else
        {
            watch.Should().Throw<CgroupException>().Where(e => e.Controller == "memory" && e.Message.Contains("memory.events"));
        }
    }
}
