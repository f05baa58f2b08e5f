using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using KataAgent.Agent.Guest;
using Xunit;

namespace KataAgent.Tests.Agent;

public class BootTimelineTests
{
    [Fact]
    public void Steps_are_described_in_order_with_their_uptime_and_the_time_since_the_one_before()
    {
        double before = (double)Stopwatch.GetTimestamp() / Stopwatch.Frequency;
        BootTimeline.Mark("timeline-test-first");
        Thread.Sleep(20);
        BootTimeline.Mark("timeline-test-second");

        string text = BootTimeline.Describe();

        var first = Regex.Match(text, @"timeline-test-first at (\d+\.\d{3}) s");
        var second = Regex.Match(text, @"timeline-test-second at (\d+\.\d{3}) s \(\+(\d+\.\d{3}) s\)");
        first.Success.Should().BeTrue(text);
        second.Success.Should().BeTrue(text);
        first.Index.Should().BeLessThan(second.Index);
        double firstAt = double.Parse(first.Groups[1].Value, CultureInfo.InvariantCulture);
        double secondAt = double.Parse(second.Groups[1].Value, CultureInfo.InvariantCulture);
        firstAt.Should().BeGreaterThanOrEqualTo(Math.Floor(before * 1000) / 1000, "the marks are on the monotonic clock, the guest's uptime");
        double delta = double.Parse(second.Groups[2].Value, CultureInfo.InvariantCulture);
        delta.Should().BeGreaterThanOrEqualTo(0.019, "the second mark came at least 20 ms after the first");
        delta.Should().BeApproximately(secondAt - firstAt, 0.0011);
    }
}
