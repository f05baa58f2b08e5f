using FluentAssertions;
using KataAgent.Agent.Guest.Hotplug;
using Xunit;

namespace KataAgent.Tests.Agent.Hotplug;

public class CpuListTests
{
    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData("0-3\n", new[] { 0, 1, 2, 3 })]
    [InlineData("0,2-3,7", new[] { 0, 2, 3, 7 })]
    [InlineData("", new int[0])]
    public void Parses_the_kernel_cpu_list_format(string text, int[] cpus) =>
        CpuList.Parse(text).Should().Equal(cpus);

    [Theory]
    [InlineData("3-1")]
    [InlineData("a")]
    [InlineData("0-")]
    [InlineData("-1")]
    public void Anything_else_is_a_format_error(string text)
    {
        var parse = () => CpuList.Parse(text);
        parse.Should().Throw<FormatException>().Which.Message.Should().Contain(text);
    }
}
