using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Host.Transport.HybridVsock;
using KataAgent.Host.Vsock;
using Xunit;
using static KataAgent.Tests.Vsock.VsockTestSupport;

namespace KataAgent.Tests.Vsock;

/// <summary>The device against a fake guest driver: connections both ways, data, credit.</summary>
public class VirtioVsockDeviceTests
{
    [Fact]
    public void Offers_stream_only_and_the_guest_cid_as_config()
    {
        using var guest = new FakeVsockGuest(start: false);
        guest.Device.DeviceFeatures.Should().Be(1UL, "STREAM only, no SEQPACKET");
        guest.Device.QueueCount.Should().Be(2);
        guest.Device.Config.ToArray().Should().Equal(3, 0, 0, 0, 0, 0, 0, 0);
        File.Exists(guest.HybridPath).Should().BeTrue("the hybrid socket listens once the device exists");
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(2UL)]
    [InlineData(0xffffffffUL)]
    public void Reserved_guest_cids_are_refused(ulong cid)
    {
        using var directory = new TempDirectory();
        var create = () => new VirtioVsockDevice(new VirtioVsockDeviceOptions { GuestCid = cid, HybridSocketPath = directory.File("vm.sock") });
        create.Should().Throw<ArgumentException>().WithMessage("*GuestCid*");
    }

    [Fact]
    public async Task A_hybrid_client_connects_and_bytes_flow_both_ways()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);

        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        connection.HostPort.Should().BeInRange(1u << 30, (1u << 31) - 1, "Firecracker's range for host-initiated ports");

        byte[] toGuest = Pattern(3000, 1);
        await host.WriteAsync(toGuest);
        (await connection.ReadAsync(toGuest.Length)).Should().Equal(toGuest);

        byte[] toHost = Pattern(5000, 2);
        connection.Send(VsockOp.Rw, toHost);
        (await ReadExactlyAsync(host, toHost.Length)).Should().Equal(toHost);
        guest.Rx.Violations.Concat(guest.Tx.Violations).Should().BeEmpty();
    }

    [Fact]
    public async Task Host_ports_are_distinct_per_connection()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        var (a, first) = await OpenFromHostAsync(guest, 1024);
        var (b, second) = await OpenFromHostAsync(guest, 1024);
        await using var _ = a;
        await using var __ = b;

        first.HostPort.Should().NotBe(second.HostPort);
        guest.Device.ConnectionCount.Should().Be(2);
    }

    [Fact]
    public async Task Host_to_guest_transfer_stays_within_the_guests_credit_and_asks_when_out()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(8);
        var (host, connection) = await OpenFromHostAsync(guest, 1024, guestBufAlloc: 16 * 1024);
        await using var _ = host;
        byte[] data = Pattern(1024 * 1024, 3);

        var writer = host.WriteAsync(data).AsTask();
        var reader = Task.Run(async () =>
        {
            byte[] received = new byte[data.Length];
            int offset = 0;
            while (offset < data.Length)
            {
                // The guest keeps its rx ring stocked, as Linux does.
                if (guest.Rx.AvailableCount < 4)
                {
                    guest.PostRx(8);
                }
                byte[] chunk = await connection.ReadAsync(Math.Min(4096, data.Length - offset));
                chunk.CopyTo(received, offset);
                offset += chunk.Length;
            }
            return received;
        });

        (await reader).Should().Equal(data);
        await writer;
        // 1 MiB through a 16 KiB window with no proactive updates: the device had to ask every window.
        connection.CreditRequestsSeen.Should().BeGreaterThanOrEqualTo(60);
    }

    [Fact]
    public async Task Guest_to_host_transfer_stays_within_our_buf_alloc_and_gets_credit_updates()
    {
        using var guest = new FakeVsockGuest(o => o with { BufAlloc = 64 * 1024 });
        guest.PostRx(64);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        connection.PeerBufAlloc.Should().Be(64 * 1024u);
        byte[] data = Pattern(8 * 1024 * 1024, 4);

        var reader = Task.Run(async () =>
        {
            byte[] received = new byte[data.Length];
            int offset = 0;
            while (offset < data.Length)
            {
                // A slow host reader: small reads with pauses make the device buffer and withhold credit.
                int n = await host.ReadAsync(received.AsMemory(offset, Math.Min(7000, data.Length - offset)));
                n.Should().BePositive();
                offset += n;
                if (offset % (512 * 1024) < 7000)
                {
                    await Task.Delay(5);
                }
            }
            return received;
        });
        var writer = Task.Run(async () =>
        {
            await connection.WriteAsync(data, maxPacket: 32 * 1024);
        });
        var refill = Task.Run(async () =>
        {
            while (!writer.IsCompleted)
            {
                if (guest.Rx.AvailableCount < 16)
                {
                    guest.PostRx(32);
                }
                await Task.Delay(1);
            }
        });

        await writer;
        (await reader).Should().Equal(data);
        await refill;
        connection.CreditUpdatesSeen.Should().BePositive("Linux never asks: the device must tell it about freed space");
    }

    [Fact]
    public async Task Resumes_on_the_guests_credit_update()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(32);
        var (host, connection) = await OpenFromHostAsync(guest, 1024, guestBufAlloc: 8192);
        await using var _ = host;
        await host.WriteAsync(Pattern(20000, 5));

        var first = await connection.ExpectAsync(VsockOp.Rw);
        int got = first.Payload.Length;
        while (got < 8192)
        {
            got += (await connection.ExpectAsync(VsockOp.Rw)).Payload.Length;
        }
        got.Should().Be(8192, "the device stops at the guest's buf_alloc");
        await connection.ExpectAsync(VsockOp.CreditRequest);
        guest.Peek().Where(connection.Mine).Should().NotContain(p => p.Op == VsockOp.Rw, "no data beyond the credit");

        // The guest consumed it all: its update opens the window again.
        connection.Consumed(8192);
        connection.Send(VsockOp.CreditUpdate);
        var resumed = await connection.ExpectAsync(VsockOp.Rw);
        resumed.Payload.Length.Should().BePositive();
    }

    [Fact]
    public async Task A_refused_port_closes_the_hybrid_client()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(4);
        await using var stream = new NetworkStream(await guest.ConnectHybridAsync(), ownsSocket: true);

        var handshake = HybridVsockHandshake.ConnectAsync(stream, guest.HybridPath, 5555, FakeVsockGuest.Patience, CancellationToken.None);
        var request = await guest.NextAsync(p => p.Op == VsockOp.Request && p.Header.DstPort == 5555);
        guest.Send(FakeVsockGuest.From(5555, request.Header.SrcPort, VsockOp.Rst));

        var error = (await FluentActions.Awaiting(() => handshake).Should().ThrowAsync<HybridVsockException>()).Which;
        error.Reason.Should().Contain("closed the connection without a reply");
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task An_unanswered_request_times_out_closing_the_client_and_resetting_the_guest()
    {
        using var guest = new FakeVsockGuest(o => o with { ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        guest.PostRx(4);
        await using var stream = new NetworkStream(await guest.ConnectHybridAsync(), ownsSocket: true);
        var handshake = HybridVsockHandshake.ConnectAsync(stream, guest.HybridPath, 1024, FakeVsockGuest.Patience, CancellationToken.None);
        var request = await guest.NextAsync(p => p.Op == VsockOp.Request);

        await FluentActions.Awaiting(() => handshake).Should().ThrowAsync<HybridVsockException>();
        var reset = await guest.NextAsync(p => p.Op == VsockOp.Rst);
        reset.Header.SrcPort.Should().Be(request.Header.SrcPort);
        reset.Header.DstPort.Should().Be(1024u);
    }

    [Fact]
    public async Task A_client_before_the_guest_driver_runs_is_closed_at_once()
    {
        using var guest = new FakeVsockGuest(start: false);
        await using var stream = new NetworkStream(await guest.ConnectHybridAsync(), ownsSocket: true);

        var handshake = HybridVsockHandshake.ConnectAsync(stream, guest.HybridPath, 1024, FakeVsockGuest.Patience, CancellationToken.None);

        var error = (await FluentActions.Awaiting(() => handshake).Should().ThrowAsync<HybridVsockException>()).Which;
        error.Reason.Should().Contain("without a reply");
        guest.Log.ToString().Should().Contain("driver is not running");
    }

    [Fact]
    public async Task A_guest_connection_reaches_the_unix_socket_for_its_port()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"{guest.HybridPath}_7000"));
        listener.Listen();

        var connection = await OpenFromGuestAsync(guest, guestPort: 50000, hostPort: 7000);
        using var accepted = await listener.AcceptAsync().WaitAsync(FakeVsockGuest.Patience);
        await using var host = new NetworkStream(accepted);

        byte[] up = Pattern(70000, 6);
        await connection.WriteAsync(up);
        (await ReadExactlyAsync(host, up.Length)).Should().Equal(up);

        byte[] down = Pattern(9000, 7);
        await host.WriteAsync(down);
        (await connection.ReadAsync(down.Length)).Should().Equal(down);
    }

    [Fact]
    public async Task A_guest_connection_to_a_port_nobody_listens_on_is_reset()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(4);

        guest.Send(FakeVsockGuest.From(50001, 7001, VsockOp.Request));

        var reset = await guest.NextAsync(p => p.Header.DstPort == 50001);
        reset.Op.Should().Be(VsockOp.Rst);
        reset.Header.SrcPort.Should().Be(7001u);
        reset.Header.DstCid.Should().Be(FakeVsockGuest.Cid);
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task Split_rx_buffers_carry_header_and_payload_as_older_guests_post_them()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16, split: true);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;

        byte[] data = Pattern(10000, 8);
        await host.WriteAsync(data);

        (await connection.ReadAsync(data.Length)).Should().Equal(data);
    }
}
