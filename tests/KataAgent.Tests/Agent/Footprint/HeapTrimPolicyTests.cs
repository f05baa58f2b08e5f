using FluentAssertions;
using KataAgent.Agent.Footprint;
using KataAgent.Tests.Kactl;
using Xunit;

namespace KataAgent.Tests.Agent.Footprint;

/// <summary>When the agent gives its idle heap back: after a burst, once quiet, not too often.</summary>
public sealed class HeapTrimPolicyTests
{
    private const long MiB = 1L << 20;

    [Fact]
    public void A_burst_then_a_quiet_period_collects_once()
    {
        var time = new ManualClock();
        var policy = new HeapTrimPolicy(0);
        policy.ShouldCollect(20 * MiB, time.GetTimestamp(), time).Should().BeFalse("the agent allocated during this period");
        time.Advance(TimeSpan.FromMilliseconds(500));
        policy.ShouldCollect(20 * MiB + 1000, time.GetTimestamp(), time).Should().BeTrue("quiet after 20 MiB, and no collection yet");
        policy.Collected(20 * MiB + 2000, time.GetTimestamp());
        time.Advance(TimeSpan.FromSeconds(10));
        policy.ShouldCollect(20 * MiB + 3000, time.GetTimestamp(), time).Should().BeFalse("almost nothing was allocated since");
    }

    [Fact]
    public void A_busy_agent_is_not_interrupted()
    {
        var time = new ManualClock();
        var policy = new HeapTrimPolicy(0);
        for (int tick = 1; tick <= 20; tick++)
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            policy.ShouldCollect(tick * 2 * MiB, time.GetTimestamp(), time).Should().BeFalse($"tick {tick} allocated 2 MiB");
        }
    }

    [Fact]
    public void Collections_are_at_least_the_minimum_interval_apart()
    {
        var time = new ManualClock();
        var policy = new HeapTrimPolicy(0);
        policy.ShouldCollect(8 * MiB, time.GetTimestamp(), time).Should().BeFalse();
        policy.ShouldCollect(8 * MiB, time.GetTimestamp(), time).Should().BeTrue();
        policy.Collected(8 * MiB, time.GetTimestamp());
        policy.ShouldCollect(16 * MiB, time.GetTimestamp(), time).Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(1));
        policy.ShouldCollect(16 * MiB, time.GetTimestamp(), time).Should().BeFalse("1 s after the last collection");
        time.Advance(HeapTrimPolicy.MinimumInterval);
        policy.ShouldCollect(16 * MiB, time.GetTimestamp(), time).Should().BeTrue();
    }

    [Fact]
    public void Less_than_the_minimum_is_not_worth_a_collection()
    {
        var time = new ManualClock();
        var policy = new HeapTrimPolicy(0);
        policy.ShouldCollect(HeapTrimPolicy.MinimumAllocated - 1, time.GetTimestamp(), time).Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(5));
        policy.ShouldCollect(HeapTrimPolicy.MinimumAllocated - 1, time.GetTimestamp(), time).Should().BeFalse();
    }
}
