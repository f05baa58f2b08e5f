using FluentAssertions;
using KataAgent.Agent.Containers.Cgroups;
using Xunit;

namespace KataAgent.Tests.Cgroups;

public class CgroupV2ConversionsTests
{
    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(1UL, 1UL)] // below the v1 minimum: clamped to 2
    [InlineData(2UL, 1UL)]
    [InlineData(512UL, 20UL)]
    [InlineData(1024UL, 39UL)]
    [InlineData(262144UL, 10000UL)]
    [InlineData(1000000UL, 10000UL)]
    public void Cpu_shares_map_to_cpu_weight_as_in_runc(ulong shares, ulong weight)
    {
        CgroupV2Conversions.CpuSharesToWeight(shares).Should().Be(weight);
    }

    [Theory]
    [InlineData(0U, 0UL)]
    [InlineData(10U, 1UL)]
    [InlineData(100U, 910UL)]
    [InlineData(500U, 4950UL)]
    [InlineData(1000U, 10000UL)]
    public void Blkio_weight_maps_to_io_weight_as_in_runc(uint blkio, ulong io)
    {
        CgroupV2Conversions.BlkioWeightToIoWeight(blkio).Should().Be(io);
    }

    [Theory]
    [InlineData(0L, 100L, null)]
    [InlineData(0L, -1L, "max")]
    [InlineData(-1L, 100L, "max")]
    [InlineData(300L, 100L, "200")]
    [InlineData(100L, 100L, "0")]
    public void Memory_plus_swap_becomes_swap_alone(long swap, long limit, string? expected)
    {
        CgroupV2Conversions.MemorySwapToV2(swap, limit).Should().Be(expected);
    }

    [Theory]
    [InlineData(50L, 100L, "Swap=50*Limit=100")]
    [InlineData(300L, 0L, "without a memory limit")]
    [InlineData(300L, -1L, "without a memory limit")]
    [InlineData(-5L, 100L, "invalid memory swap")]
    public void Impossible_swap_settings_are_refused(long swap, long limit, string message)
    {
        var convert = () => CgroupV2Conversions.MemorySwapToV2(swap, limit);
        convert.Should().Throw<CgroupException>().WithMessage($"*{message}*");
    }
}
