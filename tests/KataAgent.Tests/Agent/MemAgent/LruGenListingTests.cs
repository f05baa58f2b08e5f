using FluentAssertions;
using KataAgent.Agent.MemAgent;
using Xunit;

namespace KataAgent.Tests.Agent.MemAgent;

/// <summary>MGLRU's debugfs listing, as the kernel prints it.</summary>
public sealed class LruGenListingTests
{
    [Fact]
    public void Memcgs_nodes_and_generations_are_read_and_other_lines_skipped()
    {
        var memcgs = LruGenListing.Parse("""
            memcg     1 /
             node     0
                      0      14720      1530     89470
                      1      14720       0         0
                      2       2640     -12      3120
                      3        180      7720       400
             node     1
                      5       1000        10        20
            memcg     5 /system.slice/a b.service
            + 1 0 3 0 1
            """);

        memcgs.Should().HaveCount(1, "a path with a space does not parse as a memcg header (three words)");
        var root = memcgs[0];
        root.Id.Should().Be(1);
        root.Nodes.Should().HaveCount(2);
        var node = root.Nodes[0];
        (node.MinSeq, node.MaxSeq).Should().Be((0UL, 3UL));
        node.Oldest.Should().Be(new Generation(0, 14720, 1530, 89470));
        node.Generations[2].Anon.Should().Be(0, "a transiently negative count reads as 0");
        node.YoungestAge.Should().Be(TimeSpan.FromMilliseconds(180));
    }
}
