using FluentAssertions;
using KataAgent.Host.VhostUser;
using Xunit;

namespace KataAgent.Tests.VhostUser;

/// <summary>
/// The device working on its own thread while qemu changes what the rings stand on: memory tables replaced and call
/// fds swapped mid-traffic, and ring indices that wrap. Every byte is checked; a mapping unmapped under the device
/// would crash the test process or throw out of the device.
/// </summary>
public sealed class VhostUserConcurrencyTests
{
    [Fact]
    public async Task Memory_tables_and_call_fds_change_while_the_device_thread_moves_data()
    {
        await using var session = new TestSession(deviceThread: true);
        session.Realize();
        session.StartDriver();
        using var dimm = new TestGuest();
        var rx = session.Rings[0];
        var tx = session.Rings[1];
        var random = new Random(12);
        const int Burst = 8;
        for (int round = 0; round < 60; round++)
        {
            ushort rxUsed = rx.UsedIndex;
            var messages = new byte[Burst][];
            var rxHeads = new ushort[Burst];
            for (int i = 0; i < Burst; i++)
            {
                rxHeads[i] = rx.Post((0x4_0000 + ((ulong)i * 0x2000), 0x2000, true));
            }
            for (int i = 0; i < Burst; i++)
            {
                messages[i] = new byte[random.Next(1, 0x2000)];
                random.NextBytes(messages[i]);
                // Even ones in the first region; odd ones from 4 KiB before the second region on, so the first of
                // them straddles the boundary between the two.
                ulong address = i % 2 == 0
                    ? 0x1_0000 + ((ulong)i * 0x2000)
                    : TestGuest.RegionSize - 0x1000 + (0x2000 * (ulong)(i / 2));
                session.Guest.Write(address, messages[i]);
                tx.Post((address, (uint)messages[i].Length, false));
                session.Kicks[1].Signal();
            }
            // While the device thread works through the burst: a new table (alternately with and without a
            // hot-added DIMM), and a new call fd for rx.
            session.Qemu!.SetMemTable(round % 2 == 0 ? session.Guest.TableWith(dimm) : session.Guest.Table()).Should().Be(0UL);
            var call = new TestEventFd();
            session.Qemu.SetVringFd(VhostUserRequest.SetVringCall, 0, call.Fd);
            session.Calls[0].Dispose();
            session.Calls[0] = call;

            TestSession.WaitUntil(() => rx.UsedIndex == (ushort)(rxUsed + Burst), $"round {round}'s echoes");
            for (int i = 0; i < Burst; i++)
            {
                rx.UsedElement((ushort)(rxUsed + i)).Should().Be((rxHeads[i], (uint)messages[i].Length));
                session.Guest.Read(0x4_0000 + ((ulong)i * 0x2000), messages[i].Length).Should().Equal(messages[i], $"round {round}, message {i}");
            }
        }
        session.Device.Failures.Should().BeEmpty();
        session.Server.Completion.IsCompleted.Should().BeFalse();
        session.Device.Events.Count(e => e == "start").Should().Be(1);
        VhostUserServerTests.CountMappings(dimm.Name).Should().Be(1, "the last table had no DIMM: only the test's own mapping of it is left");
    }

    [Fact]
    public async Task Ring_indices_wrap_around_65535()
    {
        await using var session = new TestSession();
        session.Realize();
        const ushort Start = 65530;
        session.Rings[0].StartAt(Start);
        session.Rings[1].StartAt(Start);
        session.StartDriver(bases: [Start, Start]);
        for (int i = 0; i < 40; i++)
        {
            session.Echo([(byte)i, (byte)(i + 1)]).Should().Equal((byte)i, (byte)(i + 1));
        }
        session.Rings[0].UsedIndex.Should().Be(unchecked((ushort)(Start + 40)));
        var bases = session.ResetDriver();
        bases.Select(b => b.Num).Should().Equal(unchecked((ushort)(Start + 40)), unchecked((ushort)(Start + 40)));
    }
}
