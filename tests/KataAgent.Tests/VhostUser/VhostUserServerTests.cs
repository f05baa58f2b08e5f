using System.Buffers.Binary;
using FluentAssertions;
using KataAgent.Host.VhostUser;
using Xunit;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// The vhost-user server without qemu: the test sends qemu 7.2's messages over the unix socket (fds included) and
/// drives the rings in a memfd as the guest driver would; an echo device moves bytes from queue 1 to queue 0.
/// </summary>
public sealed class VhostUserServerTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Realize_start_traffic_and_reset_as_qemu_sends_them()
    {
        await using var session = new TestSession();
        session.Realize();
        session.Device.Events.Should().BeEmpty("realize acknowledges no features and starts nothing");
        session.StartDriver();
        session.Device.AcknowledgedFeatures.Should().Be(TestSession.DriverFeatures);
        session.Device.Events.Should().StartWith(["features 0x160000001", "start", "kick 0", "kick 1"], "a kick of each queue after the start catches buffers made available before");

        byte[] data = "hello through the rings"u8.ToArray();
        session.Echo(data).Should().Equal(data);
        session.Calls[0].Wait(FakeFrontEnd.ReplyTimeout).Should().BeGreaterThan(0UL, "the rx completion signals the call eventfd");

        var bases = session.ResetDriver();
        session.Device.Events.Should().EndWith("stop");
        bases.Should().Equal(new VringState(0, 1), new VringState(1, 1));
        session.Device.Running.Should().BeFalse();

        // The guest driver comes back (module reload, reboot): fresh rings from index 0, the device starts afresh.
        foreach (var ring in session.Rings)
        {
            ring.Reset();
        }
        session.StartDriver();
        session.Device.Events.Count(e => e == "start").Should().Be(2);
        session.Echo([1, 2, 3]).Should().Equal(1, 2, 3);
    }

    [Fact]
    public async Task A_buffer_crossing_two_memory_regions_is_two_segments_with_the_right_bytes()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        var data = new byte[4096];
        Random.Shared.NextBytes(data);
        // 1 KiB before the end of the first region, 3 KiB into the second; the file has a hole between them.
        session.Echo(data, address: TestGuest.RegionSize - 1024, receive: TestGuest.RegionSize - 3000).Should().Equal(data);
        session.Device.ReadableSegments.Should().Equal(2);
    }

    [Fact]
    public async Task Restart_from_the_base_that_get_vring_base_returned()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        for (int i = 0; i < 5; i++)
        {
            session.Echo([(byte)i]);
        }
        var bases = session.ResetDriver();
        bases.Select(b => b.Num).Should().Equal(5u, 5u);
        // A vhost stop/start without a driver reset (qemu does that around migration): the rings carry on.
        session.StartDriver(bases: [(ushort)bases[0].Num, (ushort)bases[1].Num]);
        session.Echo([42]).Should().Equal(42);
        session.Rings[1].UsedIndex.Should().Be(6);
    }

    [Fact]
    public async Task Get_config_answers_the_bytes_asked_for_and_an_empty_reply_outside_the_config_space()
    {
        await using var session = new TestSession();
        var qemu = session.Connect();
        qemu.GetConfig(2, 4).Should().Equal([2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0x66, 0x55, 0x44, 0x33]);
        qemu.GetConfig(4, 8).Should().BeEmpty("offset 4 + 8 bytes is past the 8-byte config");
        qemu.GetConfig(0, 0).Should().BeEmpty();
        qemu.GetConfig(0xFFFF_FFFF, 2).Should().BeEmpty();
        qemu.GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL, "the connection goes on");
        session.Log.Should().Contain("GET_CONFIG of 8 bytes at offset 4 is outside the device's 8-byte config space");
    }

    [Fact]
    public async Task Need_reply_gets_a_reply_ack_for_every_request_without_a_reply_of_its_own()
    {
        await using var session = new TestSession();
        var qemu = session.Connect();
        qemu.SetU64(VhostUserRequest.SetProtocolFeatures, 0x209, needReply: true).Should().Be(0UL);
        qemu.Send(VhostUserRequest.SetOwner, [], needReply: true);
        qemu.ReadU64Reply(VhostUserRequest.SetOwner).Should().Be(0UL);
        qemu.SetState(VhostUserRequest.SetVringNum, 0, 128, needReply: true).Should().Be(0UL);
        qemu.SetState(VhostUserRequest.SetVringNum, 0, 100, needReply: true).Should().NotBe(0UL, "not a power of 2");
        qemu.SetState(VhostUserRequest.SetVringNum, 7, 128, needReply: true).Should().NotBe(0UL, "no ring 7");
        qemu.SetState(VhostUserRequest.SetVringBase, 1, 70000, needReply: true).Should().NotBe(0UL, "16-bit index");
        qemu.SetU64(VhostUserRequest.SetFeatures, 1UL << 28, needReply: true).Should().NotBe(0UL, "INDIRECT_DESC was never offered");
        qemu.SetU64(VhostUserRequest.SetProtocolFeatures, 1UL << 13, needReply: true).Should().NotBe(0UL, "RESET_DEVICE was never offered");
        qemu.SetVringFd(VhostUserRequest.SetVringKick, 0, -1, needReply: true).Should().NotBe(0UL, "polling mode is not supported");
        qemu.SetVringFd(VhostUserRequest.SetVringCall, 0, -1, needReply: true).Should().Be(0UL, "a call without fd: no interrupts");
        using var eventFd = new TestEventFd();
        qemu.SetVringFd(VhostUserRequest.SetVringErr, 1, eventFd.Fd, needReply: true).Should().Be(0UL);
        qemu.SetU64(VhostUserRequest.SetVringKick, 0, needReply: true).Should().NotBe(0UL, "no fd came with it");
        qemu.SetState(VhostUserRequest.SetVringEnable, 0, 2, needReply: true).Should().NotBe(0UL);
        qemu.SetU64(VhostUserRequest.SetLogBase, 0, needReply: true).Should().NotBe(0UL, "dirty logging is not supported");
        qemu.Send((VhostUserRequest)99, [1, 2, 3], needReply: true);
        qemu.ReadU64Reply((VhostUserRequest)99).Should().NotBe(0UL);

        qemu.Send((VhostUserRequest)99, [1, 2, 3]);
        qemu.Send(VhostUserRequest.SetOwner, []);
        qemu.HasPendingBytes(Quiet).Should().BeFalse("without NEED_REPLY nothing answers a request that has no reply");
        qemu.GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL);
        session.Log.Should().Contain("request 99 (unknown, 3 payload bytes, 0 fds) is not supported")
            .And.Contain("request 6 (SET_LOG_BASE, 8 payload bytes, 0 fds) is not supported: answered with a failure");
    }

    [Fact]
    public async Task Fds_of_a_refused_request_are_closed()
    {
        await using var session = new TestSession();
        var qemu = session.Connect();
        using var guest = new TestGuest();
        int before = CountMemfd(guest.Name);
        // Three fds on a table of two regions: refused, and none of the three stays open in this process.
        var table = TestGuest.Regions;
        var payload = new byte[8 + (2 * MemoryRegionDescription.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, 2);
        table[0].Write(payload.AsSpan(8));
        table[1].Write(payload.AsSpan(40));
        qemu.Send(VhostUserRequest.SetMemTable, payload, [guest.Fd, guest.Fd, guest.Fd], needReply: true);
        qemu.ReadU64Reply(VhostUserRequest.SetMemTable).Should().NotBe(0UL);
        qemu.Send((VhostUserRequest)77, [], [guest.Fd, guest.Fd]);
        qemu.GetU64(VhostUserRequest.GetQueueNum);
        CountMemfd(guest.Name).Should().Be(before);
        CountMappings(guest.Name).Should().Be(1, "only the test's own mapping");
    }

    [Fact]
    public async Task A_memory_table_with_overlapping_regions_is_refused_and_the_old_one_stays()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        var overlapping = new[]
        {
            (new MemoryRegionDescription(0, TestGuest.RegionSize, TestGuest.FirstUserAddress, 0), session.Guest.Fd),
            (new MemoryRegionDescription(TestGuest.RegionSize / 2, TestGuest.RegionSize, TestGuest.SecondUserAddress, 0), session.Guest.Fd),
        };
        session.Qemu!.SetMemTable(overlapping).Should().NotBe(0UL);
        session.Log.Should().Contain("overlap");
        session.Echo([7, 7]).Should().Equal(7, 7);
    }

    [Fact]
    public async Task Memory_replaced_while_running_is_remapped_under_pause_and_the_old_mapping_goes()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        session.Echo([1]).Should().Equal(1);
        string oldName = session.Guest.Name;
        CountMappings(oldName).Should().Be(3, "the test's mapping and one per region of the server's");
        int pauses = session.Device.Events.Count(e => e == "pause");

        session.ReplaceMemory();

        session.Device.Events.Count(e => e == "pause").Should().Be(pauses + 1);
        session.Device.Events.Should().NotContain("stop", "the device keeps running through a memory change");
        CountMappings(oldName).Should().Be(0, "the old table's mappings are gone (the test unmapped its own)");
        CountMemfd(oldName).Should().Be(0, "and no fd of it stays open");
        CountMappings(session.Guest.Name).Should().Be(3);
        // Only the new memfd sees the driver's next buffers: the echo proves the server uses the new mappings.
        session.Echo([2, 3, 4]).Should().Equal(2, 3, 4);
        session.Rings[0].UsedIndex.Should().Be(2);
    }

    [Theory]
    [InlineData("loop")]
    [InlineData("outside")]
    [InlineData("head")]
    [InlineData("next")]
    [InlineData("order")]
    [InlineData("indirect")]
    [InlineData("jump")]
    public async Task A_malformed_chain_breaks_the_queue_until_the_driver_resets(string kind)
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        var tx = session.Rings[1];
        switch (kind)
        {
            case "loop":
                tx.WriteDescriptor(0, 0x1_0000, 8, TestRing.Next, 1);
                tx.WriteDescriptor(1, 0x1_0008, 8, TestRing.Next, 0);
                tx.Publish(0);
                break;
            case "outside":
                tx.Post((TestGuest.RegionSize * 2 - 4, 8, false)); // runs 4 bytes past the end of guest memory
                break;
            case "head":
                tx.Publish(TestSession.QueueSize);
                break;
            case "next":
                tx.WriteDescriptor(0, 0x1_0000, 8, TestRing.Next, 200);
                tx.Publish(0);
                break;
            case "order":
                tx.Post((0x1_0000, 8, true), (0x1_0008, 8, false));
                break;
            case "indirect":
                tx.WriteDescriptor(0, 0x1_0000, 32, TestRing.Indirect, 0);
                tx.Publish(0);
                break;
            case "jump":
                tx.SetAvailableIndex(TestSession.QueueSize + 1);
                break;
        }
        session.Kicks[1].Signal();
        session.Device.WaitForEvent("stop");
        session.Device.Failures.Should().ContainSingle().Which.Message.Should().StartWith("queue 1: ");
        session.Errs[1].Wait(FakeFrontEnd.ReplyTimeout).Should().BeGreaterThan(0UL, "qemu learns of it through the err eventfd");
        session.Log.Should().Contain("the device is stopped until the driver resets it");

        // Still served: the control channel answers, the device does not restart on a kick fd alone.
        session.Qemu!.GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL);
        session.Qemu.SetVringFd(VhostUserRequest.SetVringKick, 1, session.Kicks[1].Fd);
        session.Qemu.GetU64(VhostUserRequest.GetQueueNum);
        session.Device.Events.Count(e => e == "start").Should().Be(1);

        // The driver resets the device and sets its rings up again: it runs as before.
        session.ResetDriver();
        foreach (var ring in session.Rings)
        {
            ring.Reset();
        }
        session.StartDriver();
        session.Echo([9, 8, 7]).Should().Equal(9, 8, 7);
    }

    [Fact]
    public async Task A_malformed_message_closes_that_connection_and_the_next_one_is_served()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        var qemu = session.Qemu!;
        qemu.Send(VhostUserRequest.SetVringNum, [1, 2, 3, 4]); // 4 bytes where vhost_vring_state has 8
        qemu.WaitClosed(FakeFrontEnd.ReplyTimeout).Should().BeTrue();
        session.Device.WaitForEvent("stop");
        session.Log.Should().Contain("closing the connection: malformed message: SET_VRING_NUM (8) with a payload of 4 bytes where 8 belong");

        foreach (var ring in session.Rings)
        {
            ring.Reset();
        }
        session.Connect();
        session.Realize();
        session.StartDriver();
        session.Echo([5]).Should().Equal(5);
    }

    [Theory]
    [InlineData(0x2u, 0u)] // version 2
    [InlineData(0x1u, 4097u)] // more payload than any request has
    public async Task A_bad_header_closes_the_connection(uint flags, uint size)
    {
        await using var session = new TestSession();
        var qemu = session.Connect();
        qemu.Send(VhostUserRequest.GetFeatures, [], flags: flags, size: size);
        qemu.WaitClosed(FakeFrontEnd.ReplyTimeout).Should().BeTrue();
        session.Connect().GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL);
    }

    [Fact]
    public async Task Qemu_disconnecting_stops_the_device_and_a_new_connection_starts_afresh()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        session.Echo([1]);
        session.Qemu!.Dispose();
        session.Device.WaitForEvent("stop");
        session.Log.Should().Contain("front-end disconnected");

        foreach (var ring in session.Rings)
        {
            ring.Reset();
        }
        session.Connect();
        session.Realize();
        session.StartDriver();
        session.Echo([2]).Should().Equal(2);
        session.Device.Events.Count(e => e == "start").Should().Be(2);
    }

    [Fact]
    public async Task Without_event_idx_no_interrupt_suppresses_the_call_and_its_absence_restores_it()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver(TestSession.DriverFeatures & ~VhostUserFeatures.EventIndex);
        session.Rings[0].AvailableFlags = 1;
        session.Rings[1].AvailableFlags = 1;
        session.Echo([1]);
        session.Calls[0].Wait(Quiet).Should().Be(0UL, "NO_INTERRUPT");
        session.Calls[1].Take().Should().Be(0UL);
        session.Rings[1].AvailableEvent.Should().Be(0, "avail_event is not written without EVENT_IDX");

        session.Rings[0].AvailableFlags = 0;
        session.Echo([2]);
        session.Calls[0].Wait(FakeFrontEnd.ReplyTimeout).Should().Be(1UL);
    }

    [Fact]
    public async Task With_event_idx_the_call_comes_only_when_used_event_is_crossed()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        var rx = session.Rings[0];
        var tx = session.Rings[1];
        session.Echo([0]); // the first completion always signals (nothing signalled before)
        session.Calls[0].Wait(FakeFrontEnd.ReplyTimeout).Should().Be(1UL);
        session.Calls[1].Wait(FakeFrontEnd.ReplyTimeout).Should().Be(1UL);

        rx.UsedEvent = 3; // "tell me when used.idx passes 3": completions 2 and 3 stay quiet, 4 signals
        tx.UsedEvent = 100;
        session.Echo([1]);
        session.Echo([2]);
        session.Calls[0].Wait(Quiet).Should().Be(0UL);
        session.Echo([3]);
        session.Calls[0].Wait(FakeFrontEnd.ReplyTimeout).Should().Be(1UL, "used.idx went from 3 to 4, past used_event 3");
        session.Calls[1].Take().Should().Be(0UL, "tx's used_event is far ahead");

        tx.AvailableEvent.Should().Be(4, "avail_event follows the last available index taken");
        rx.AvailableEvent.Should().Be(4);
    }

    [Fact]
    public void Vring_need_event_is_u16_arithmetic()
    {
        SplitVirtqueue.NeedEvent(eventIndex: 3, newIndex: 4, old: 3).Should().BeTrue();
        SplitVirtqueue.NeedEvent(eventIndex: 3, newIndex: 3, old: 2).Should().BeFalse();
        SplitVirtqueue.NeedEvent(eventIndex: 3, newIndex: 10, old: 2).Should().BeTrue();
        SplitVirtqueue.NeedEvent(eventIndex: 10, newIndex: 10, old: 2).Should().BeFalse();
        SplitVirtqueue.NeedEvent(eventIndex: 0xFFFF, newIndex: 1, old: 0xFFFE).Should().BeTrue("wrapping past 0");
        SplitVirtqueue.NeedEvent(eventIndex: 5, newIndex: 1, old: 0xFFFE).Should().BeFalse();
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced_and_anything_else_in_the_way_refused()
    {
        using var directory = new TempDirectory();
        string path = directory.File("v.sock");
        var device = new EchoDevice();
        var first = VhostUserServer.Listen(path, device);
        // A crashed owner leaves its socket file: take the fd away without the dispose that deletes it.
        await using (var second = VhostUserServer.Listen(path, device))
        {
            FakeFrontEnd.Connect(path).GetU64(VhostUserRequest.GetQueueNum).Should().Be(2UL);
        }
        File.Exists(path).Should().BeFalse();
        await first.DisposeAsync();

        File.WriteAllText(path, "data");
        var listen = () => VhostUserServer.Listen(path, device);
        listen.Should().Throw<ArgumentException>().WithMessage("*something other than a socket*");
        File.ReadAllText(path).Should().Be("data");
    }

    [Fact]
    public async Task A_device_failing_otherwise_ends_the_server_with_a_fault_saying_so()
    {
        await using var session = new TestSession();
        session.Realize();
        session.StartDriver();
        session.Device.FailNextKick = new InvalidOperationException("the device lost its mind");
        session.Kicks[1].Signal();
        var completion = () => session.Server.Completion.WaitAsync(FakeFrontEnd.ReplyTimeout);
        (await completion.Should().ThrowAsync<InvalidOperationException>())
            .WithMessage($"the vhost-user server on {session.SocketPath} stopped: the device lost its mind");
        session.Device.Events.Should().EndWith("stop", "the device is stopped on the way out");
    }

    internal static int CountMemfd(string name) => Infrastructure.OpenDescriptors.Count("/memfd:" + name);

    internal static int CountMappings(string name) => File.ReadAllLines("/proc/self/maps").Count(l => l.Contains("/memfd:" + name, StringComparison.Ordinal));
}
