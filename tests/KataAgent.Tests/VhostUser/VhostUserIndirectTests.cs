using FluentAssertions;
using KataAgent.Host.VhostUser;
using Xunit;

namespace KataAgent.Tests.VhostUser;

/// <summary>INDIRECT_DESC: descriptors that point to tables of descriptors, as Linux's drivers use them for multi-buffer packets.</summary>
public sealed class VhostUserIndirectTests
{
    private const ulong Features = TestSession.DriverFeatures | VhostUserFeatures.IndirectDescriptors;

    [Theory]
    [InlineData(0x3000UL)]
    [InlineData(TestGuest.RegionSize - 16)] // the table itself crosses from the first region into the second
    public async Task Indirect_tables_are_followed_after_direct_descriptors_and_across_regions(ulong table)
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver(Features);
        var rx = session.Rings[0];
        var tx = session.Rings[1];
        var data = new byte[300];
        Random.Shared.NextBytes(data);
        // With the table in the first region, the second buffer crosses the region boundary instead.
        bool tableCrosses = table > 0x3000;
        ulong source = tableCrosses ? 0x2_0000 : TestGuest.RegionSize - 100;
        session.Guest.Write(0x1_0000, data.AsSpan(0, 44));
        session.Guest.Write(source, data.AsSpan(44));

        // tx: one indirect descriptor whose table holds the header-like first part and the rest.
        tx.WriteTableEntry(table, 0, 0x1_0000, 44, TestRing.Next, 1);
        tx.WriteTableEntry(table, 1, source, 256, 0, 0);
        tx.WriteDescriptor(0, table, 32, TestRing.Indirect, 0);
        // rx: a direct writable descriptor, then an indirect one whose table holds one writable entry.
        const ulong RxTable = 0x3800;
        rx.WriteDescriptor(0, 0x5_0000, 10, TestRing.Write | TestRing.Next, 1);
        rx.WriteDescriptor(1, RxTable, 16, TestRing.Indirect | TestRing.Write, 0);
        rx.WriteTableEntry(RxTable, 0, 0x6_0000, 290, TestRing.Write, 0);
        rx.Publish(0);
        tx.Publish(0);
        session.Kicks[1].Signal();

        TestSession.WaitUntil(() => rx.UsedIndex == 1 && tx.UsedIndex == 1, "the echo");
        rx.UsedElement(0).Should().Be((0u, 300u));
        session.Device.ReadableSegments.Should().Equal([tableCrosses ? 2 : 3], "44 bytes, then 256 (100 + 156 on both sides of the region boundary)");
        session.Guest.Read(0x5_0000, 10).Concat(session.Guest.Read(0x6_0000, 290)).Should().Equal(data);
    }

    [Theory]
    [InlineData("next", "is INDIRECT and has NEXT set")]
    [InlineData("nested", "is INDIRECT again")]
    [InlineData("size", "has 24 bytes, not a multiple of 16")]
    [InlineData("outside", "is outside guest memory")]
    [InlineData("loop", "loops")]
    [InlineData("beyond", "beyond its 2 entries")]
    [InlineData("large", "more than the queue size")]
    public async Task A_malformed_indirect_table_breaks_the_queue(string kind, string reason)
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver(Features);
        var tx = session.Rings[1];
        const ulong Table = 0x3000;
        tx.WriteTableEntry(Table, 0, 0x1_0000, 8, TestRing.Next, 1);
        tx.WriteTableEntry(Table, 1, 0x1_0008, 8, 0, 0);
        switch (kind)
        {
            case "next":
                tx.WriteDescriptor(0, Table, 32, TestRing.Indirect | TestRing.Next, 1);
                break;
            case "nested":
                tx.WriteTableEntry(Table, 1, Table, 32, TestRing.Indirect, 0);
                tx.WriteDescriptor(0, Table, 32, TestRing.Indirect, 0);
                break;
            case "size":
                tx.WriteDescriptor(0, Table, 24, TestRing.Indirect, 0);
                break;
            case "outside":
                tx.WriteDescriptor(0, (2 * TestGuest.RegionSize) - 16, 32, TestRing.Indirect, 0);
                break;
            case "loop":
                tx.WriteTableEntry(Table, 1, 0x1_0008, 8, TestRing.Next, 0);
                tx.WriteDescriptor(0, Table, 32, TestRing.Indirect, 0);
                break;
            case "beyond":
                tx.WriteTableEntry(Table, 1, 0x1_0008, 8, TestRing.Next, 2);
                tx.WriteDescriptor(0, Table, 32, TestRing.Indirect, 0);
                break;
            case "large":
                tx.WriteDescriptor(0, Table, 16 * (TestSession.QueueSize + 1), TestRing.Indirect, 0);
                break;
        }
        tx.Publish(0);
        session.Kicks[1].Signal();
        session.Device.WaitForEvent("stop");
        session.Device.Failures.Should().ContainSingle().Which.Message.Should().StartWith("queue 1: ").And.Contain(reason);
        session.Errs[1].Wait(FakeFrontEnd.ReplyTimeout).Should().BeGreaterThan(0UL);
    }
}
