using FluentAssertions;
using KataAgent.Host.Sizing;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Shim.Sizing;
using Xunit;

namespace KataAgent.Tests.Shim.Sizing;

/// <summary>
/// <see cref="VmSizing"/>: the VM's boot size and hot-plug headroom from containerd's CRI sandbox annotations, CRI-O's
/// PodLinuxResources JSON or a lone container's linux.resources, and the size a set of containers needs.
/// The host is an 8-CPU, 16 GiB machine unless a test says otherwise; the options are the defaults (base 1 vCPU and
/// 256 MiB, 512 MiB of workload memory without a limit).
/// </summary>
public sealed class VmSizingTests
{
    private static readonly HostCapacity Host = new(Cpus: 8, MemoryMiB: 16384);
    private static readonly SizingOptions Defaults = new();

    private static Dictionary<string, string> Pod(string? period = null, string? quota = null, string? shares = null, string? memory = null)
    {
        var annotations = new Dictionary<string, string>
        {
            ["io.kubernetes.cri.container-type"] = "sandbox",
            ["io.kubernetes.cri.sandbox-id"] = "0123abcd",
        };
        void Add(string key, string? value)
        {
            if (value is not null)
            {
                annotations[key] = value;
            }
        }
        Add(VmSizing.CpuPeriodAnnotation, period);
        Add(VmSizing.CpuQuotaAnnotation, quota);
        Add(VmSizing.CpuSharesAnnotation, shares);
        Add(VmSizing.MemoryAnnotation, memory);
        return annotations;
    }

    /// <summary>The pause container's own resources as containerd's CRI writes them: shares 2, nothing else.</summary>
    private static LinuxResources Pause => new() { CPU = new LinuxCPU { Shares = 2 } };

    [Fact]
    public void The_pod_containerd_passed_boots_with_its_requests_and_grows_to_its_limits()
    {
        // The annotations a RunPodSandbox with {period 100000, quota 250000, shares 512, memory 256 MiB} produced.
        var size = VmSizing.ForSandbox(Pod("100000", "250000", "512", "268435456"), Pause, Defaults, Host);

        // shares 512 = a 500m request → 1 vCPU; quota/period = 2.5 → 3; memory 256 MiB is the pod's limit.
        size.Should().Be(new VmSize(BootCpus: 2, BootMemoryMiB: 512, MaxCpus: 4, MaxMemoryMiB: 512, MemorySlots: 16, SizingSource.ContainerdPodAnnotations));
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(100, 1)]
    [InlineData(999, 1)]
    [InlineData(1000, 1)]
    [InlineData(1001, 2)]
    [InlineData(1500, 2)]
    [InlineData(2000, 2)]
    [InlineData(3999, 4)]
    [InlineData(4000, 4)]
    public void A_cpu_request_comes_back_exactly_from_kubelets_shares(long milliCpu, int workloadCpus)
    {
        long shares = Math.Max(2, milliCpu * 1024 / 1000); // kubelet's MilliCPUToShares

        var size = VmSizing.ForSandbox(Pod(shares: shares.ToString(System.Globalization.CultureInfo.InvariantCulture)), Pause, Defaults, Host);

        size.BootCpus.Should().Be(1 + workloadCpus);
    }

    [Fact]
    public void A_best_effort_pod_gets_the_base_and_the_hosts_room()
    {
        // No requests (shares 2 is kubelet's minimum), no limits (quota 0, memory 0).
        var size = VmSizing.ForSandbox(Pod("100000", "0", "2", "0"), Pause, Defaults, Host);

        size.BootCpus.Should().Be(1, "shares 2 is no request; Kata gates the same case so BestEffort pods gain no vCPU");
        size.MaxCpus.Should().Be(8, "without a CPU limit the pod may use every host CPU");
        size.BootMemoryMiB.Should().Be(256 + 512);
        size.MaxMemoryMiB.Should().Be(16384 - (16384 - 768) % 128, "the room above boot is whole 128 MiB blocks");
        size.Source.Should().Be(SizingSource.ContainerdPodAnnotations);
    }

    [Fact]
    public void Requests_without_limits_boot_with_the_requests_and_keep_the_host_as_headroom()
    {
        var size = VmSizing.ForSandbox(Pod("100000", "0", "2048", "0"), Pause, Defaults, Host);

        size.BootCpus.Should().Be(3);
        size.MaxCpus.Should().Be(8);
    }

    [Theory]
    [InlineData("-1", "100000")]
    [InlineData("0", "100000")]
    [InlineData("200000", "0")]
    public void A_quota_or_period_that_is_not_positive_is_no_limit(string quota, string period)
    {
        var size = VmSizing.ForSandbox(Pod(period, quota, "1024", "0"), Pause, Defaults, Host);

        size.BootCpus.Should().Be(2);
        size.MaxCpus.Should().Be(8);
    }

    [Fact]
    public void Limits_without_requests_boot_small_and_leave_room_to_the_limits()
    {
        var size = VmSizing.ForSandbox(Pod("100000", "300000", "2", "1073741824"), Pause, Defaults, Host);

        size.BootCpus.Should().Be(1);
        size.MaxCpus.Should().Be(4);
        size.BootMemoryMiB.Should().Be(1280);
        size.MaxMemoryMiB.Should().Be(1280, "a pod's memory limit is all the memory it may use");
    }

    [Fact]
    public void Everything_is_capped_at_the_hosts_cpus_or_the_configured_maximum()
    {
        var onTwoCores = VmSizing.ForSandbox(Pod("100000", "800000", "4096", "0"), Pause, Defaults, Host with { Cpus = 2 });
        onTwoCores.BootCpus.Should().Be(2);
        onTwoCores.MaxCpus.Should().Be(2);

        var configured = VmSizing.ForSandbox(Pod("100000", "0", "1024", "0"), Pause, Defaults with { MaxCpus = 12, MaxMemoryMiB = 2048 }, Host);
        configured.BootCpus.Should().Be(2);
        configured.MaxCpus.Should().Be(12, "maxCpus replaces the host's count as the cap");
        configured.MaxMemoryMiB.Should().Be(768 + 1280);
    }

    [Fact]
    public void A_memory_limit_larger_than_the_cap_boots_at_the_cap()
    {
        var size = VmSizing.ForSandbox(Pod(memory: (64L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture)), Pause, Defaults, Host);

        size.BootMemoryMiB.Should().Be(16384);
        size.MaxMemoryMiB.Should().Be(16384);
    }

    [Fact]
    public void Absurd_values_saturate_at_the_caps_instead_of_wrapping_around()
    {
        string max = long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var size = VmSizing.ForSandbox(Pod("1", max, ulong.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), max), Pause, Defaults, Host);

        size.Should().Be(new VmSize(8, 16384, 8, 16384, 16, SizingSource.ContainerdPodAnnotations));
        var huge = new LinuxResources { CPU = new LinuxCPU { Quota = long.MaxValue, Period = 1 }, Memory = new LinuxMemory { Limit = long.MaxValue } };
        var demand = VmSizing.Demand([huge, huge]);
        demand.Should().Be(new ResourceDemand(long.MaxValue, 2 * ((long.MaxValue >> 20) + 1)), "milliCPU saturates; 8 EiB is a mere 2^43 MiB");
        VmSizing.Target(size, demand, Defaults).Should().Be(new SizingTarget(8, 16384, Capped: true));
    }

    [Fact]
    public void CRI_O_pod_resources_json_sizes_the_pod()
    {
        // Go's json.Marshal of CRI-O's *types.LinuxContainerResources.
        var annotations = new Dictionary<string, string>
        {
            ["io.kubernetes.cri-o.ContainerType"] = "sandbox",
            [VmSizing.CriOPodResourcesAnnotation] = """{"cpu_period":100000,"cpu_quota":200000,"cpu_shares":1024,"memory_limit_in_bytes":536870912,"cpuset_cpus":"","hugepage_limits":[],"unified":{}}""",
        };

        var size = VmSizing.ForSandbox(annotations, Pause, Defaults, Host);

        size.Should().Be(new VmSize(2, 768, 3, 768, 16, SizingSource.CriOPodResources));
    }

    [Fact]
    public void CRI_O_under_its_newer_annotation_name_and_in_protobuf_json_is_read_too()
    {
        var annotations = new Dictionary<string, string> { [VmSizing.CriOPodResourcesAnnotationV2] = """{"cpuShares":"2048","cpuQuota":"0"}""" };

        var size = VmSizing.ForSandbox(annotations, null, Defaults, Host);

        size.BootCpus.Should().Be(3);
        size.MaxCpus.Should().Be(8);
        size.Source.Should().Be(SizingSource.CriOPodResources);
    }

    [Fact]
    public void CRI_O_without_pod_resources_writes_null_and_gets_the_defaults()
    {
        var annotations = new Dictionary<string, string> { ["io.kubernetes.cri-o.ContainerType"] = "sandbox", [VmSizing.CriOPodResourcesAnnotation] = "null" };

        VmSizing.ForSandbox(annotations, Pause, Defaults, Host).Source.Should().Be(SizingSource.Defaults);
    }

    [Fact]
    public void A_lone_container_boots_with_its_own_limits_and_keeps_the_host_as_headroom()
    {
        // ctr run --cpus 1.5 --memory-limit 1073741824: no CRI annotations at all.
        var resources = new LinuxResources
        {
            CPU = new LinuxCPU { Quota = 150000, Period = 100000 },
            Memory = new LinuxMemory { Limit = 1L << 30 },
        };

        var size = VmSizing.ForSandbox(new Dictionary<string, string>(), resources, Defaults, Host);

        size.BootCpus.Should().Be(3);
        size.MaxCpus.Should().Be(8, "ctr task update may raise the limits later");
        size.BootMemoryMiB.Should().Be(1280);
        size.MaxMemoryMiB.Should().BeGreaterThan(16000);
        size.Source.Should().Be(SizingSource.ContainerResources);
    }

    [Fact]
    public void A_lone_container_with_cpu_shares_only_boots_with_that_request()
    {
        var size = VmSizing.ForSandbox(new Dictionary<string, string>(), new LinuxResources { CPU = new LinuxCPU { Shares = 2048 } }, Defaults, Host);

        size.BootCpus.Should().Be(3);
        size.BootMemoryMiB.Should().Be(768);
    }

    [Fact]
    public void A_lone_container_without_resources_and_a_cri_sandbox_without_sizing_get_the_defaults()
    {
        VmSizing.ForSandbox(new Dictionary<string, string>(), null, Defaults, Host)
            .Should().Be(new VmSize(1, 768, 8, 16384 - (16384 - 768) % 128, 16, SizingSource.Defaults));
        VmSizing.ForSandbox(Pod(), new LinuxResources { CPU = new LinuxCPU { Shares = 2, Quota = 500000, Period = 100000 } }, Defaults, Host)
            .Source.Should().Be(SizingSource.Defaults, "a CRI sandbox's own resources are the pause container's, not the pod's");
    }

    [Fact]
    public void The_spec_overload_reads_the_annotations_and_linux_resources_of_a_spec()
    {
        var spec = new Spec { Linux = new KataAgent.Protocols.Agent.Linux { Resources = Pause } };
        foreach (var (key, value) in Pod("100000", "100000", "1024", "134217728"))
        {
            spec.Annotations[key] = value;
        }

        var size = VmSizing.ForSandbox(spec, Defaults);

        size.BootCpus.Should().Be(Math.Min(2, Environment.ProcessorCount));
        size.BootMemoryMiB.Should().Be(384);
        size.Source.Should().Be(SizingSource.ContainerdPodAnnotations);
    }

    [Theory]
    [InlineData(VmSizing.CpuSharesAnnotation, "512m")]
    [InlineData(VmSizing.CpuSharesAnnotation, "-2")]
    [InlineData(VmSizing.CpuPeriodAnnotation, "")]
    [InlineData(VmSizing.CpuQuotaAnnotation, "1.5")]
    [InlineData(VmSizing.MemoryAnnotation, "256Mi")]
    public void A_malformed_annotation_is_an_error_naming_it(string key, string value)
    {
        var annotations = Pod("100000", "0", "1024", "0");
        annotations[key] = value;

        var size = () => VmSizing.ForSandbox(annotations, Pause, Defaults, Host);

        var error = size.Should().Throw<SizingException>().Which;
        error.Field.Should().Be(key);
        error.Message.Should().StartWith(key + ": ").And.Contain($"'{value}'");
    }

    [Theory]
    [InlineData("{", "io.kubernetes.cri-o.PodLinuxResources")]
    [InlineData("[1]", "io.kubernetes.cri-o.PodLinuxResources")]
    [InlineData("""{"cpu_shares":"lots"}""", "io.kubernetes.cri-o.PodLinuxResources: $.cpu_shares")]
    [InlineData("""{"memory_limit_in_bytes":1.5}""", "io.kubernetes.cri-o.PodLinuxResources: $.memory_limit_in_bytes")]
    public void Malformed_CRI_O_json_is_an_error_naming_the_annotation_and_path(string json, string field)
    {
        var annotations = new Dictionary<string, string> { [VmSizing.CriOPodResourcesAnnotation] = json };

        var size = () => VmSizing.ForSandbox(annotations, null, Defaults, Host);

        size.Should().Throw<SizingException>().Which.Field.Should().Be(field);
    }

    [Theory]
    [InlineData("baseCpus")]
    [InlineData("baseMemoryMiB")]
    [InlineData("defaultMemoryMiB")]
    [InlineData("maxCpus")]
    [InlineData("maxMemoryMiB")]
    [InlineData("memorySlots")]
    public void A_bad_option_is_an_error_naming_its_key(string key)
    {
        var options = key switch
        {
            "baseCpus" => Defaults with { BaseCpus = 0 },
            "baseMemoryMiB" => Defaults with { BaseMemoryMiB = 16 },
            "defaultMemoryMiB" => Defaults with { DefaultMemoryMiB = -1 },
            "maxCpus" => Defaults with { BaseCpus = 4, MaxCpus = 2 },
            "maxMemoryMiB" => Defaults with { MaxMemoryMiB = 100 },
            _ => Defaults with { MemorySlots = 0 },
        };

        var size = () => VmSizing.ForSandbox(new Dictionary<string, string>(), null, options, Host);

        size.Should().Throw<SizingException>().Which.Field.Should().Be("sizing." + key);
    }

    [Fact]
    public void The_demand_of_containers_sums_limits_and_falls_back_to_requests()
    {
        var containers = new LinuxResources?[]
        {
            Pause,
            new() { CPU = new LinuxCPU { Shares = 512, Quota = 50000, Period = 100000 }, Memory = new LinuxMemory { Limit = 128L << 20 } },
            new() { CPU = new LinuxCPU { Shares = 1536 }, Memory = new LinuxMemory { Limit = 0 } },
            new() { Memory = new LinuxMemory { Limit = (100L << 20) + 1 } },
            null,
            new() { Pids = new LinuxPids { Limit = 10 } },
        };

        VmSizing.Demand(containers).Should().Be(new ResourceDemand(MilliCpus: 500 + 1500, MemoryMiB: 128 + 101));
    }

    [Fact]
    public void The_target_grows_above_boot_never_below_it_and_is_cut_to_the_headroom()
    {
        var size = new VmSize(BootCpus: 2, BootMemoryMiB: 768, MaxCpus: 4, MaxMemoryMiB: 2048, MemorySlots: 16, SizingSource.ContainerdPodAnnotations);

        VmSizing.Target(size, new ResourceDemand(500, 128), Defaults).Should().Be(new SizingTarget(2, 768, Capped: false));
        VmSizing.Target(size, new ResourceDemand(2001, 1000), Defaults).Should().Be(new SizingTarget(4, 1256, Capped: false));
        VmSizing.Target(size, new ResourceDemand(8000, 4096), Defaults).Should().Be(new SizingTarget(4, 2048, Capped: true));
    }

    [Fact]
    public void A_size_applies_to_qemu_options()
    {
        var options = new QemuOptions { KernelPath = "k", InitrdPath = "i", StateDirectory = "s" };

        var sized = new VmSize(2, 768, 4, 2048, 8, SizingSource.Defaults).ApplyTo(options);

        sized.Cpus.Should().Be(2);
        sized.MemoryMiB.Should().Be(768);
        sized.MaxCpus.Should().Be(4);
        sized.MaxMemoryMiB.Should().Be(2048);
        sized.MemorySlots.Should().Be(8);
        sized.KernelPath.Should().Be("k");
    }

    [Fact]
    public void Host_memory_comes_from_MemTotal()
    {
        HostCapacity.MemTotalMiB("MemTotal:       24554840 kB\nMemFree:        1 kB\n").Should().Be(23979);
        var bad = () => HostCapacity.MemTotalMiB("MemFree: 1 kB\n");
        bad.Should().Throw<FormatException>();
        HostCapacity.Current().Cpus.Should().Be(Environment.ProcessorCount);
    }
}
