using FluentAssertions;
using KataAgent.Host.Pods;
using KataAgent.Host.Sizing;
using Xunit;

namespace KataAgent.Tests.HostPods;

/// <summary>
/// <see cref="PodSizing"/>: boot size from the pod's requests plus the overhead, hot-plug headroom from its limits or
/// the host. The host is an 8-CPU, 16 GiB machine; the options are the defaults (1 vCPU and 256 MiB of overhead,
/// 512 MiB assumed for a pod that requests no memory).
/// </summary>
public sealed class PodSizingTests
{
    private const long MiB = 1024 * 1024;
    private static readonly PodSizingOptions Defaults = new();

    private static PodSpec Pod(params PodResources[] containers) => new()
    {
        Name = "p",
        Containers = containers.Select((r, i) => new PodContainerSpec { Name = $"c{i}", Image = "busybox", Resources = r }).ToList(),
    };

    [Fact]
    public void Requests_size_the_boot_and_limits_the_headroom()
    {
        // Two containers: 250m + 500m requested (→ 1 whole vCPU), limits 1 + 1.5 (→ 3); 64 + 128 MiB requested, limits 256 + 256.
        var pod = Pod(
            new PodResources { CpuRequestMilli = 250, CpuLimitMilli = 1000, MemoryRequestBytes = 64 * MiB, MemoryLimitBytes = 256 * MiB },
            new PodResources { CpuRequestMilli = 500, CpuLimitMilli = 1500, MemoryRequestBytes = 128 * MiB, MemoryLimitBytes = 256 * MiB });
        var size = PodSizing.Compute(pod, Defaults, hostCpus: 8, hostMemoryMiB: 16384);
        size.Should().Be(new PodVmSize(Cpus: 2, MemoryMiB: 256 + 192, MaxCpus: 1 + 3, MaxMemoryMiB: 448 + 384));
    }

    [Fact]
    public void A_pod_with_a_request_and_no_limit_boots_with_its_request_and_may_grow_to_the_host()
    {
        // The seed's complaint: Kata sizes from limits only, so this pod would get default_vcpus (1) and could not grow.
        var size = PodSizing.Compute(Pod(new PodResources { CpuRequestMilli = 3000, MemoryRequestBytes = 1024 * MiB }), Defaults, 8, 16384);
        size.Cpus.Should().Be(4);
        size.MaxCpus.Should().Be(8);
        size.MemoryMiB.Should().Be(1280);
        // The room above boot is whole 128 MiB blocks, never past the host's memory.
        size.MaxMemoryMiB.Should().Be(1280 + (16384 - 1280) / 128 * 128);
    }

    [Fact]
    public void A_best_effort_pod_boots_small_with_the_host_as_headroom()
    {
        var size = PodSizing.Compute(Pod(new PodResources()), Defaults, 8, 16384);
        size.Should().Be(new PodVmSize(Cpus: 1, MemoryMiB: 256 + 512, MaxCpus: 8, MaxMemoryMiB: 768 + (16384 - 768) / 128 * 128));
    }

    [Fact]
    public void One_container_without_a_limit_opens_the_headroom_to_the_host()
    {
        var pod = Pod(
            new PodResources { CpuRequestMilli = 1000, CpuLimitMilli = 1000, MemoryRequestBytes = 128 * MiB, MemoryLimitBytes = 128 * MiB },
            new PodResources { CpuRequestMilli = 100, MemoryRequestBytes = 64 * MiB });
        var size = PodSizing.Compute(pod, Defaults, 8, 4096);
        size.Cpus.Should().Be(3);
        size.MaxCpus.Should().Be(8);
        size.MemoryMiB.Should().Be(448);
        size.MaxMemoryMiB.Should().Be(448 + (4096 - 448) / 128 * 128);
    }

    [Fact]
    public void A_limit_without_a_request_requests_the_limit()
    {
        var size = PodSizing.Compute(Pod(new PodResources { CpuLimitMilli = 2000, MemoryLimitBytes = 512 * MiB }), Defaults, 8, 16384);
        // A Guaranteed pod: boot = the most it may use, no room to grow.
        size.Should().Be(new PodVmSize(Cpus: 3, MemoryMiB: 768, MaxCpus: 3, MaxMemoryMiB: 768));
    }

    [Fact]
    public void Memory_headroom_reaches_the_limit_in_whole_blocks()
    {
        // Request 100 MiB, limit 300 MiB: 200 MiB of room becomes two 128 MiB blocks (256), so the limit is reachable.
        var size = PodSizing.Compute(Pod(new PodResources { MemoryRequestBytes = 100 * MiB, MemoryLimitBytes = 300 * MiB }), Defaults, 8, 16384);
        size.MemoryMiB.Should().Be(356);
        size.MaxMemoryMiB.Should().Be(356 + 256);
        // Bytes round up to whole MiB.
        PodSizing.Compute(Pod(new PodResources { MemoryRequestBytes = MiB + 1 }), Defaults, 8, 16384).MemoryMiB.Should().Be(256 + 2);
    }

    [Fact]
    public void Everything_stays_within_the_caps()
    {
        var huge = Pod(new PodResources { CpuRequestMilli = 64_000, CpuLimitMilli = 128_000, MemoryRequestBytes = 64L * 1024 * MiB, MemoryLimitBytes = 128L * 1024 * MiB });
        PodSizing.Compute(huge, Defaults, 4, 8192).Should().Be(new PodVmSize(4, 8192, 4, 8192));
        PodSizing.Compute(huge, Defaults with { MaxCpus = 6, MaxMemoryMiB = 4000 }, 64, 1 << 20).Should().Be(new PodVmSize(6, 4000, 6, 4000));
        // Room that cannot be a whole block within the cap is rounded down.
        var small = PodSizing.Compute(Pod(new PodResources { MemoryRequestBytes = 100 * MiB }), Defaults, 8, 1000);
        small.Should().Be(new PodVmSize(1, 356, 8, 356 + 5 * 128));
    }

    [Fact]
    public void The_overheads_and_the_default_memory_are_options()
    {
        var options = new PodSizingOptions { OverheadCpus = 2, OverheadMemoryMiB = 128, DefaultMemoryMiB = 0 };
        PodSizing.Compute(Pod(new PodResources { CpuRequestMilli = 1 }), options, 8, 16384).Should().Be(new PodVmSize(3, 128, 8, 128 + (16384 - 128) / 128 * 128));
    }

    [Theory]
    [InlineData(0, 256, 0, 0, "OverheadCpus")]
    [InlineData(1, 32, 0, 0, "OverheadMemoryMiB")]
    [InlineData(2, 256, 1, 0, "MaxCpus")]
    [InlineData(1, 256, 0, 100, "MaxMemoryMiB")]
    public void Bad_options_are_named(int overheadCpus, int overheadMemory, int maxCpus, int maxMemory, string name)
    {
        var options = new PodSizingOptions { OverheadCpus = overheadCpus, OverheadMemoryMiB = overheadMemory, MaxCpus = maxCpus, MaxMemoryMiB = maxMemory };
        var compute = () => PodSizing.Compute(Pod(new PodResources()), options, 8, 16384);
        compute.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be(name);
    }

    [Fact]
    public void The_shared_arithmetic_rounds_up_and_saturates()
    {
        VmSizeArithmetic.WholeCpus(1).Should().Be(1);
        VmSizeArithmetic.WholeCpus(1000).Should().Be(1);
        VmSizeArithmetic.WholeCpus(1001).Should().Be(2);
        VmSizeArithmetic.WholeMiB(MiB).Should().Be(1);
        VmSizeArithmetic.WholeMiB(MiB + 1).Should().Be(2);
        VmSizeArithmetic.SaturatingAdd(long.MaxValue, 1).Should().Be(long.MaxValue);
        VmSizeArithmetic.Cpus(1, long.MaxValue, null, 16).Should().Be((16, 16));
        VmSizeArithmetic.Memory(256, long.MaxValue, null, 4096).Should().Be((4096, 4096));
    }
}
