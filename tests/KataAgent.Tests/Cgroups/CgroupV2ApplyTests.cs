using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using KataAgent.Protocols.Agent;
using Xunit;

namespace KataAgent.Tests.Cgroups;

/// <summary>OCI resources → cgroup v2 files, checked byte for byte on a fake tree.</summary>
public sealed class CgroupV2ApplyTests : IDisposable
{
    private const long GiB = 1L << 30;
    private const long MiB = 1L << 20;
    private readonly FakeCgroupTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Every_supported_field_lands_in_its_v2_file()
    {
        var resources = new LinuxResources
        {
            Memory = new LinuxMemory { Limit = GiB, Reservation = 512 * MiB, Swap = GiB + 256 * MiB },
            CPU = new LinuxCPU { Shares = 1024, Quota = 50000, Period = 0, Cpus = "0-1", Mems = "0" },
            Pids = new LinuxPids { Limit = 100 },
            BlockIO = new LinuxBlockIO
            {
                Weight = 500,
                ThrottleReadBpsDevice = { new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = MiB } },
                ThrottleWriteBpsDevice = { new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 2 * MiB } },
                ThrottleReadIOPSDevice = { new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 100 } },
                ThrottleWriteIOPSDevice = { new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 200 } },
            },
            HugepageLimits = { new LinuxHugepageLimit { Pagesize = "2MB", Limit = 4 * MiB } },
        };

        var warnings = _tree.Manager().Apply(resources);

        warnings.Should().BeEmpty();
        _tree.ReadLeaf("memory.max").Should().Be("1073741824");
        _tree.ReadLeaf("memory.low").Should().Be("536870912");
        _tree.ReadLeaf("memory.swap.max").Should().Be("268435456");
        _tree.ReadLeaf("cpu.weight").Should().Be("39");
        _tree.ReadLeaf("cpu.max").Should().Be("50000 100000");
        _tree.ReadLeaf("cpuset.cpus").Should().Be("0-1");
        _tree.ReadLeaf("cpuset.mems").Should().Be("0");
        _tree.ReadLeaf("pids.max").Should().Be("100");
        _tree.ReadLeaf("io.weight").Should().Be("4950");
        _tree.ReadLeaf("io.max").Should().Be("8:0 rbps=1048576 wbps=2097152 riops=100 wiops=200\n");
        _tree.ReadLeaf("hugetlb.2MB.max").Should().Be("4194304");
        _tree.ReadLeaf("hugetlb.1GB.max").Should().BeEmpty();
    }

    [Fact]
    public void Unlimited_memory_also_unlimits_swap()
    {
        _tree.Manager().Apply(new LinuxResources { Memory = new LinuxMemory { Limit = -1 } });
        _tree.ReadLeaf("memory.max").Should().Be("max");
        _tree.ReadLeaf("memory.swap.max").Should().Be("max");
        _tree.ReadLeaf("memory.low").Should().BeEmpty();
    }

    [Fact]
    public void Swap_equal_to_the_limit_disables_swap_and_minus_one_means_unlimited()
    {
        var manager = _tree.Manager();
        manager.Apply(new LinuxResources { Memory = new LinuxMemory { Limit = GiB, Swap = GiB } });
        _tree.ReadLeaf("memory.swap.max").Should().Be("0");
        manager.Apply(new LinuxResources { Memory = new LinuxMemory { Limit = GiB, Swap = -1 } });
        _tree.ReadLeaf("memory.swap.max").Should().Be("max");
    }

    [Fact]
    public void Swap_below_the_limit_is_refused_before_anything_is_written()
    {
        var apply = () => _tree.Manager().Apply(new LinuxResources { Memory = new LinuxMemory { Limit = GiB, Swap = 512 * MiB } });
        apply.Should().Throw<CgroupException>().WithMessage("*Swap=536870912*greater than or equal*Limit=1073741824*");
        _tree.ReadLeaf("memory.max").Should().BeEmpty();
        _tree.ReadLeaf("memory.swap.max").Should().BeEmpty();
    }

    [Theory]
    [InlineData(-1L, 0UL, "max 100000")]
    [InlineData(20000L, 50000UL, "20000 50000")]
    [InlineData(0L, 0UL, "")]
    public void Cpu_quota_and_period_become_cpu_max(long quota, ulong period, string expected)
    {
        _tree.WriteLeaf("cpu.max", "");
        _tree.Manager().Apply(new LinuxResources { CPU = new LinuxCPU { Quota = quota, Period = period } });
        _tree.ReadLeaf("cpu.max").Should().Be(expected);
    }

    [Theory]
    [InlineData(0L, "max")]
    [InlineData(-1L, "max")]
    [InlineData(4096L, "4096")]
    public void Pids_limit_of_zero_or_less_means_max(long limit, string expected)
    {
        _tree.Manager().Apply(new LinuxResources { Pids = new LinuxPids { Limit = limit } });
        _tree.ReadLeaf("pids.max").Should().Be(expected);
    }

    [Fact]
    public void Throttles_are_grouped_per_device_and_a_zero_rate_lifts_the_limit()
    {
        var resources = new LinuxResources
        {
            BlockIO = new LinuxBlockIO
            {
                ThrottleReadBpsDevice =
                {
                    new LinuxThrottleDevice { Major = 8, Minor = 0, Rate = 1000 },
                    new LinuxThrottleDevice { Major = 253, Minor = 1, Rate = 0 },
                },
                ThrottleWriteIOPSDevice = { new LinuxThrottleDevice { Major = 253, Minor = 1, Rate = 7 } },
            },
        };
        _tree.Manager().Apply(resources);
        _tree.ReadLeaf("io.max").Should().Be("8:0 rbps=1000\n253:1 rbps=max wiops=7\n");
        _tree.ReadLeaf("io.weight").Should().BeEmpty();
    }

    [Fact]
    public void Per_device_weights_go_to_io_weight_converted()
    {
        var resources = new LinuxResources
        {
            BlockIO = new LinuxBlockIO
            {
                WeightDevice =
                {
                    new LinuxWeightDevice { Major = 8, Minor = 0, Weight = 10 },
                    new LinuxWeightDevice { Major = 8, Minor = 16, Weight = 1000 },
                },
            },
        };
        _tree.Manager().Apply(resources);
        _tree.ReadLeaf("io.weight").Should().Be("8:0 1\n8:16 10000\n");
    }

    [Fact]
    public void With_bfq_the_weight_is_written_unconverted_to_io_bfq_weight()
    {
        _tree.WriteLeaf("io.bfq.weight", "");
        _tree.Manager().Apply(new LinuxResources { BlockIO = new LinuxBlockIO { Weight = 500 } });
        _tree.ReadLeaf("io.bfq.weight").Should().Be("500");
        _tree.ReadLeaf("io.weight").Should().BeEmpty();
    }

    [Fact]
    public void V1_only_fields_are_ignored_with_a_warning_each()
    {
        var before = _tree.Snapshot();
        var resources = new LinuxResources
        {
            Memory = new LinuxMemory { Kernel = GiB, KernelTCP = MiB, Swappiness = 60, DisableOOMKiller = true },
            CPU = new LinuxCPU { RealtimeRuntime = 950000, RealtimePeriod = 1000000 },
            BlockIO = new LinuxBlockIO { LeafWeight = 300 },
            Network = new LinuxNetwork { ClassID = 0x100001 },
            Devices = { new LinuxDeviceCgroup { Allow = false, Access = "rwm" } },
        };

        var warnings = _tree.Manager().Apply(resources);

        warnings.Should().HaveCount(8);
        warnings.Should().Contain(w => w.Contains("Memory.Kernel "))
            .And.Contain(w => w.Contains("KernelTCP"))
            .And.Contain(w => w.Contains("Swappiness"))
            .And.Contain(w => w.Contains("DisableOOMKiller"))
            .And.Contain(w => w.Contains("Realtime"))
            .And.Contain(w => w.Contains("LeafWeight"))
            .And.Contain(w => w.Contains("Network"))
            .And.Contain(w => w.Contains("Devices"));
        _tree.Snapshot().Should().BeEquivalentTo(before, "ignored fields write nothing");
    }

    [Fact]
    public void A_missing_controller_file_is_an_error_naming_the_file_and_the_controller()
    {
        File.Delete(_tree.LeafFile("memory.max"));
        var apply = () => _tree.Manager().Apply(new LinuxResources { Memory = new LinuxMemory { Limit = GiB } });
        var error = apply.Should().Throw<CgroupException>().Which;
        error.Controller.Should().Be("memory");
        error.FilePath.Should().Be(_tree.LeafFile("memory.max"));
        error.Message.Should().Contain("memory.max").And.Contain("'memory' controller");
    }

    [Fact]
    public void A_missing_hugetlb_size_names_the_file_and_a_bad_size_is_refused()
    {
        var apply = () => _tree.Manager().Apply(new LinuxResources { HugepageLimits = { new LinuxHugepageLimit { Pagesize = "64KB", Limit = 1 } } });
        apply.Should().Throw<CgroupException>().Where(e => e.Controller == "hugetlb" && e.Message.Contains("hugetlb.64KB.max"));

        var escape = () => _tree.Manager().Apply(new LinuxResources { HugepageLimits = { new LinuxHugepageLimit { Pagesize = "2MB/../../x", Limit = 1 } } });
        escape.Should().Throw<CgroupException>().WithMessage("*invalid huge page size*");
    }

    [Fact]
    public void Update_writes_only_the_fields_given()
    {
        var manager = _tree.Manager();
        manager.Apply(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = GiB, Reservation = MiB },
            CPU = new LinuxCPU { Shares = 1024, Quota = 50000, Period = 100000, Cpus = "0" },
            Pids = new LinuxPids { Limit = 10 },
        });
        var before = _tree.Snapshot();

        var warnings = manager.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 2 * GiB } });

        warnings.Should().BeEmpty();
        var after = _tree.Snapshot();
        after["memory.max"].Should().Be("2147483648");
        after.Where(f => f.Key != "memory.max").Should().BeEquivalentTo(before.Where(f => f.Key != "memory.max"));
    }

    [Fact]
    public void An_empty_update_changes_nothing()
    {
        _tree.Manager().Apply(new LinuxResources { Memory = new LinuxMemory { Limit = GiB }, CPU = new LinuxCPU { Quota = 1000 } });
        var before = _tree.Snapshot();
        _tree.Manager().Update(new LinuxResources()).Should().BeEmpty();
        _tree.Snapshot().Should().BeEquivalentTo(before);
    }

    [Fact]
    public void Updating_the_quota_alone_keeps_the_period_and_the_period_alone_keeps_the_quota()
    {
        var manager = _tree.Manager();
        _tree.WriteLeaf("cpu.max", "40000 50000\n");
        manager.Update(new LinuxResources { CPU = new LinuxCPU { Quota = 30000 } });
        _tree.ReadLeaf("cpu.max").Should().Be("30000", "a lone $MAX keeps the kernel's period");

        _tree.WriteLeaf("cpu.max", "40000 50000\n");
        manager.Update(new LinuxResources { CPU = new LinuxCPU { Period = 200000 } });
        _tree.ReadLeaf("cpu.max").Should().Be("40000 200000");
    }

    [Fact]
    public void Updating_swap_alone_is_relative_to_the_current_memory_limit()
    {
        _tree.WriteLeaf("memory.max", "1073741824\n");
        _tree.Manager().Update(new LinuxResources { Memory = new LinuxMemory { Swap = 3 * GiB } });
        _tree.ReadLeaf("memory.swap.max").Should().Be("2147483648");
        _tree.ReadLeaf("memory.max").Should().Be("1073741824\n");

        _tree.WriteLeaf("memory.max", "max\n");
        var update = () => _tree.Manager().Update(new LinuxResources { Memory = new LinuxMemory { Swap = 3 * GiB } });
        update.Should().Throw<CgroupException>().WithMessage("*without a memory limit*");
    }

    [Fact]
    public void A_cpuset_the_kernel_refuses_is_a_warning_but_a_missing_cpuset_file_is_an_error()
    {
        // A directory where the file should be makes open(2) fail with EISDIR, standing in for the kernel's EINVAL.
        File.Delete(_tree.LeafFile("cpuset.cpus"));
        Directory.CreateDirectory(_tree.LeafFile("cpuset.cpus"));
        var warnings = _tree.Manager().Apply(new LinuxResources { CPU = new LinuxCPU { Cpus = "0-63" } });
        warnings.Should().ContainSingle().Which.Should().Contain("cpuset.cpus '0-63' not applied");

        Directory.Delete(_tree.LeafFile("cpuset.cpus"));
        var apply = () => _tree.Manager().Apply(new LinuxResources { CPU = new LinuxCPU { Cpus = "0" } });
        apply.Should().Throw<CgroupException>().Where(e => e.Controller == "cpuset");
    }
}
