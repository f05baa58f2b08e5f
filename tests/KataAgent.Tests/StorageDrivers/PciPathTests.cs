using FluentAssertions;
using KataAgent.Agent.Devices;
using Xunit;

namespace KataAgent.Tests.StorageDrivers;

public class PciPathTests
{
    [Theory]
    [InlineData("02", new[] { 2 })]
    [InlineData("10/00", new[] { 0x10, 0 })]
    [InlineData("1f/0a/1e", new[] { 0x1f, 0x0a, 0x1e })]
    public void Kata_pci_paths_parse_to_slots_and_print_back(string text, int[] slots)
    {
        var path = PciPath.Parse(text);
        path.Slots.Should().Equal(slots);
        path.ToString().Should().Be(text);
        path.Should().Be(PciPath.Parse(text));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("2", "'2' is not a slot")]
    [InlineData("0A", "'0A' is not a slot of two lower-case hex digits")]
    [InlineData("10/", "'' is not a slot")]
    [InlineData("/10", "'' is not a slot")]
    [InlineData("10//00", "'' is not a slot")]
    [InlineData("20", "slot 0x20 is above 0x1f")]
    [InlineData("0000:00:02.0", "is not a slot")]
    [InlineData("10/00 ", "'00 ' is not a slot")]
    [InlineData("+1", "'+1' is not a slot")]
    public void Anything_else_is_refused_with_the_reason(string text, string reason)
    {
        PciPath.TryParse(text, out var path, out string? error).Should().BeFalse();
        path.Should().BeNull();
        error.Should().Contain(reason);
    }

    [Fact]
    public void Absurdly_deep_paths_are_refused()
    {
        string deep = string.Join('/', Enumerable.Repeat("01", PciPath.MaxDepth + 1));
        PciPath.TryParse(deep, out _, out string? error).Should().BeFalse();
        error.Should().Contain($"at most {PciPath.MaxDepth}");
    }
}
