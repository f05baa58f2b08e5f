using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using KataAgent.Host.Vsock;
using Xunit;
using static KataAgent.Tests.Vsock.VsockTestSupport;

namespace KataAgent.Tests.Vsock;

/// <summary>Bad input from either side, many connections, starved queues, pauses.</summary>
public class VirtioVsockDeviceRobustnessTests
{
    [Theory]
    [InlineData((ushort)VsockOp.Rw)]
    [InlineData((ushort)VsockOp.Shutdown)]
    [InlineData((ushort)VsockOp.CreditRequest)]
    [InlineData((ushort)VsockOp.Response)]
    [InlineData((ushort)42)]
    public async Task Packets_for_unknown_connections_are_answered_with_RST(ushort rawOp)
    {
        var op = (VsockOp)rawOp;
        using var guest = new FakeVsockGuest();
        guest.PostRx(4);

        guest.Send(FakeVsockGuest.From(40000, 8000, op), op == VsockOp.Rw ? Pattern(10, 1) : default);

        var reset = await guest.NextAsync(_ => true);
        reset.Op.Should().Be(VsockOp.Rst);
        reset.Header.SrcCid.Should().Be(VirtioVsockDevice.HostCid);
        reset.Header.SrcPort.Should().Be(8000u);
        reset.Header.DstPort.Should().Be(40000u);
    }

    [Fact]
    public async Task An_RST_for_an_unknown_connection_gets_no_answer()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(4);

        guest.Send(FakeVsockGuest.From(40000, 8000, VsockOp.Rst));
        guest.Send(FakeVsockGuest.From(40001, 8000, VsockOp.Rw), Pattern(1, 1));

        (await guest.NextAsync(_ => true)).Header.DstPort.Should().Be(40001u, "only the RW was answered");
        guest.Peek().Should().BeEmpty();
    }

    [Fact]
    public async Task Seqpacket_and_other_cids_are_refused_and_spoofed_sources_ignored()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(8);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"{guest.HybridPath}_7300"));
        listener.Listen();

        var seqpacket = FakeVsockGuest.From(40010, 7300, VsockOp.Request);
        seqpacket.Type = 2;
        guest.Send(seqpacket);
        var sibling = FakeVsockGuest.From(40011, 7300, VsockOp.Request);
        sibling.DstCid = 4;
        guest.Send(sibling);
        var spoofed = FakeVsockGuest.From(40012, 7300, VsockOp.Request);
        spoofed.SrcCid = 9;
        guest.Send(spoofed);

        var first = await guest.NextAsync(p => p.Header.DstPort == 40010);
        first.Op.Should().Be(VsockOp.Rst);
        first.Header.Type.Should().Be(2, "the reset names the type it refuses");
        (await guest.NextAsync(p => p.Header.DstPort == 40011)).Op.Should().Be(VsockOp.Rst);
        await Task.Delay(100);
        guest.Peek().Should().BeEmpty("a packet claiming another source CID gets no answer");
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task A_packet_shorter_than_its_len_resets_nothing_but_itself()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(4);
        var header = FakeVsockGuest.From(40020, 8000, VsockOp.Rw);
        byte[] raw = new byte[VsockPacketHeader.Size];
        header.Len = 1000;
        header.Write(raw);

        guest.Tx.Post([raw, new byte[10]], []);
        guest.Device.Kick(1);

        (await guest.NextAsync(_ => true)).Op.Should().Be(VsockOp.Rst);
        guest.Tx.TakenCount.Should().Be(0, "every tx chain is completed");
    }

    [Theory]
    [InlineData("HELLO\n")]
    [InlineData("CONNECT abc\n")]
    [InlineData("CONNECT 1024 CONNECT 1024 CONNECT 1024 CONNECT 1024\n")]
    public async Task A_garbage_CONNECT_line_closes_that_client_only(string line)
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(8);
        var (good, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = good;
        await using var bad = new NetworkStream(await guest.ConnectHybridAsync(), ownsSocket: true);

        await bad.WriteAsync(Encoding.ASCII.GetBytes(line));

        await ExpectClosedAsync(bad);
        guest.Peek().Should().NotContain(p => p.Op == VsockOp.Request);
        byte[] data = Pattern(100, 2);
        await good.WriteAsync(data);
        (await connection.ReadAsync(data.Length)).Should().Equal(data);
    }

    [Fact]
    public async Task A_silent_client_is_dropped_after_the_handshake_timeout()
    {
        using var guest = new FakeVsockGuest(o => o with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        await using var silent = new NetworkStream(await guest.ConnectHybridAsync(), ownsSocket: true);
        await silent.WriteAsync("CONN"u8.ToArray());

        await ExpectClosedAsync(silent, TimeSpan.FromSeconds(5));
        guest.Log.ToString().Should().Contain("no CONNECT line within 200 ms");
    }

    [Fact]
    public async Task Hundreds_of_connections_both_ways_carry_their_own_bytes()
    {
        using var guest = new FakeVsockGuest();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"{guest.HybridPath}_9000"));
        listener.Listen(512);
        const int Count = 200;
        guest.PostRx(4 * Count);

        var pairs = new List<(NetworkStream Host, GuestConnection Guest)>();
        for (int i = 0; i < Count; i++)
        {
            if (i % 2 == 0)
            {
                pairs.Add(await OpenFromHostAsync(guest, 2000 + (uint)i));
            }
            else
            {
                var connection = await OpenFromGuestAsync(guest, 60000 + (uint)i, 9000);
                pairs.Add((new NetworkStream(await listener.AcceptAsync(), ownsSocket: true), connection));
            }
        }
        guest.Device.ConnectionCount.Should().Be(Count);

        // Every host writes at once; the guest reads each connection's bytes back.
        await Task.WhenAll(pairs.Select((pair, i) => pair.Host.WriteAsync(Pattern(3000, i)).AsTask()));
        for (int i = 0; i < Count; i++)
        {
            if (guest.Rx.AvailableCount < Count)
            {
                guest.PostRx(Count);
            }
            (await pairs[i].Guest.ReadAsync(3000)).Should().Equal(Pattern(3000, i), $"connection {i}");
        }
        for (int i = 0; i < Count; i++)
        {
            pairs[i].Guest.Send(VsockOp.Rw, Pattern(2000, 1000 + i));
        }
        for (int i = 0; i < Count; i++)
        {
            (await ReadExactlyAsync(pairs[i].Host, 2000)).Should().Equal(Pattern(2000, 1000 + i), $"connection {i}");
            await pairs[i].Host.DisposeAsync();
        }
        await EventuallyAsync(() => guest.Peek().Count(p => p.Op == VsockOp.Shutdown) == Count, "every closed host socket is a SHUTDOWN");
        guest.Rx.Violations.Concat(guest.Tx.Violations).Should().BeEmpty();
    }

    [Fact]
    public async Task Tx_keeps_moving_while_the_guest_posts_no_rx_buffers()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(2);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        guest.Peek();
        guest.Rx.AvailableCount.Should().Be(1);
        // Starve rx: take the last posted buffer away by filling it with host data first.
        await host.WriteAsync(Pattern(10, 3));
        await connection.ReadAsync(10);
        guest.Rx.AvailableCount.Should().Be(0);

        byte[] data = Pattern(200_000, 4);
        await host.WriteAsync(Pattern(50_000, 5));
        for (int i = 0; i < 100; i++)
        {
            guest.Send(FakeVsockGuest.From(41000 + (uint)i, 8000, VsockOp.Rw), Pattern(1, i));
        }
        await connection.WriteAsync(data);

        (await ReadExactlyAsync(host, data.Length)).Should().Equal(data, "guest-to-host data needs no rx buffer");
        guest.Tx.TakenCount.Should().Be(0);
        guest.Tx.AvailableCount.Should().Be(0);

        // Buffers arrive: what waited comes out, resets and host data alike.
        guest.PostRx(200);
        (await connection.ReadAsync(50_000)).Should().Equal(Pattern(50_000, 5));
        await EventuallyAsync(() => guest.Peek().Count(p => p.Op == VsockOp.Rst) == 100, "the 100 resets that waited");
    }

    [Fact]
    public async Task Paused_the_device_keeps_off_the_queues_and_catches_up_on_resume()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(8);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;

        var pause = guest.Device.Pause();
        guest.Rx.Forbidden = true;
        guest.Tx.Forbidden = true;
        byte[] down = Pattern(2000, 6);
        await host.WriteAsync(down);
        var header = FakeVsockGuest.From(connection.GuestPort, connection.HostPort, VsockOp.Rw, fwdCnt: 0);
        byte[] up = Pattern(1500, 7);
        header.Len = (uint)up.Length;
        byte[] raw = new byte[VsockPacketHeader.Size];
        header.Write(raw);
        guest.Tx.Post([raw, up], []);
        guest.Device.Kick(1);
        await Task.Delay(200);
        guest.Rx.Forbidden = false;
        guest.Tx.Forbidden = false;
        guest.Rx.Violations.Concat(guest.Tx.Violations).Should().BeEmpty();

        pause.Dispose();

        (await ReadExactlyAsync(host, up.Length)).Should().Equal(up);
        (await connection.ReadAsync(down.Length)).Should().Equal(down);
    }

    [Fact]
    public async Task A_malformed_ring_idles_the_device_until_it_starts_again()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(4);
        guest.Tx.Malformed = true;
        guest.Send(FakeVsockGuest.From(40030, 8000, VsockOp.Rw), Pattern(1, 1));
        guest.Log.ToString().Should().Contain("broken");

        guest.Device.Stop();
        guest.Start();
        guest.PostRx(4);
        guest.Send(FakeVsockGuest.From(40031, 8000, VsockOp.Rw), Pattern(1, 1));
        (await guest.NextAsync(_ => true)).Op.Should().Be(VsockOp.Rst);
    }
}
