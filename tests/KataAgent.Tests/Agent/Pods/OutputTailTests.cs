using System.Text;
using FluentAssertions;
using KataAgent.Agent.Pods;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>The gate's output tail: the last bytes, in order, however they were written.</summary>
public class OutputTailTests
{
    [Fact]
    public void It_keeps_the_last_capacity_bytes_in_order()
    {
        var tail = new OutputTail(capacity: 8);
        tail.Append("abc"u8);
        tail.ToArray().Should().Equal("abc"u8.ToArray());
        tail.Append("defgh"u8);
        Encoding.ASCII.GetString(tail.ToArray()).Should().Be("abcdefgh");
        tail.Append("ij"u8);
        Encoding.ASCII.GetString(tail.ToArray()).Should().Be("cdefghij");
        tail.Append("0123456789xyz"u8);
        Encoding.ASCII.GetString(tail.ToArray()).Should().Be("56789xyz", "a write longer than the tail keeps its own end");
        new OutputTail().Capacity.Should().Be(64 * 1024);
    }
}
