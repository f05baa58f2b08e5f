using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Host.Vsock;
using Xunit;
using static KataAgent.Tests.Vsock.VsockTestSupport;

namespace KataAgent.Tests.Vsock;

/// <summary>How connections end: half closes both ways, the clean close, forced resets, Stop.</summary>
public class VirtioVsockDeviceCloseTests
{
    [Fact]
    public async Task Host_half_close_sends_shutdown_send_and_guest_data_still_reaches_the_host()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        byte[] last = Pattern(1000, 9);
        await host.WriteAsync(last);

        host.Socket.Shutdown(SocketShutdown.Send);

        (await connection.ReadAsync(last.Length)).Should().Equal(last, "data before the EOF comes first");
        var shutdown = await connection.ExpectAsync(VsockOp.Shutdown);
        ((VsockShutdownFlags)shutdown.Header.Flags).Should().Be(VsockShutdownFlags.Send);
        byte[] reply = Pattern(3000, 10);
        connection.Send(VsockOp.Rw, reply);
        (await ReadExactlyAsync(host, reply.Length)).Should().Equal(reply);

        // The guest closes its side too: both directions are done, the device answers RST and lets go.
        connection.Send(VsockOp.Shutdown, flags: (uint)VsockShutdownFlags.Both);
        await connection.ExpectAsync(VsockOp.Rst);
        await ExpectClosedAsync(host);
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task Guest_half_close_shuts_the_host_sockets_write_side_and_host_data_still_reaches_the_guest()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        byte[] last = Pattern(2000, 11);
        connection.Send(VsockOp.Rw, last);

        connection.Send(VsockOp.Shutdown, flags: (uint)VsockShutdownFlags.Send);

        (await ReadExactlyAsync(host, last.Length)).Should().Equal(last);
        await ExpectClosedAsync(host);
        byte[] reply = Pattern(5000, 12);
        await host.WriteAsync(reply);
        (await connection.ReadAsync(reply.Length)).Should().Equal(reply);

        // The host closes as well: the device's own clean close, SHUTDOWN with both bits, answered by the guest's RST.
        host.Socket.Shutdown(SocketShutdown.Send);
        var shutdown = await connection.ExpectAsync(VsockOp.Shutdown);
        ((VsockShutdownFlags)shutdown.Header.Flags).Should().Be(VsockShutdownFlags.Both);
        connection.Send(VsockOp.Rst);
        await EventuallyAsync(() => guest.Device.ConnectionCount == 0, "the connection is gone after the guest's RST");
        guest.Peek().Where(connection.Mine).Should().NotContain(p => p.Op == VsockOp.Rst, "no RST in answer to an RST");
    }

    [Fact]
    public async Task The_guests_close_is_answered_with_RST_after_its_data_reached_the_host()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        byte[] data = Pattern(100_000, 13);
        await connection.WriteAsync(data);

        connection.Send(VsockOp.Shutdown, flags: (uint)VsockShutdownFlags.Both);

        (await ReadExactlyAsync(host, data.Length)).Should().Equal(data, "what the guest sent before its close is delivered");
        await connection.ExpectAsync(VsockOp.Rst);
        await ExpectClosedAsync(host);
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task Without_the_guests_RST_the_device_forces_one_after_the_shutdown_timeout()
    {
        using var guest = new FakeVsockGuest(o => o with { ShutdownTimeout = TimeSpan.FromMilliseconds(300) });
        guest.PostRx(16);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;
        connection.Send(VsockOp.Shutdown, flags: (uint)VsockShutdownFlags.Send);
        await ExpectClosedAsync(host);

        host.Socket.Close();
        var shutdown = await connection.ExpectAsync(VsockOp.Shutdown);
        ((VsockShutdownFlags)shutdown.Header.Flags).Should().Be(VsockShutdownFlags.Both);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await connection.ExpectAsync(VsockOp.Rst);
        clock.Elapsed.Should().BeGreaterThan(TimeSpan.FromMilliseconds(200));
        guest.Device.ConnectionCount.Should().Be(0);
        guest.Log.ToString().Should().Contain("forcing one");
    }

    [Fact]
    public async Task A_guest_RST_closes_the_host_socket()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        var (host, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = host;

        connection.Send(VsockOp.Rst);

        await ExpectClosedAsync(host);
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task A_host_socket_that_goes_away_while_the_guest_sends_resets_the_guest()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(16);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"{guest.HybridPath}_7100"));
        listener.Listen();
        var connection = await OpenFromGuestAsync(guest, 50100, 7100);
        var accepted = await listener.AcceptAsync();

        accepted.Close();
        // The host's close is a read EOF first: a half close the guest sees as SHUTDOWN(send).
        await connection.ExpectAsync(VsockOp.Shutdown);
        connection.Send(VsockOp.Rw, Pattern(1000, 14));

        await connection.ExpectAsync(VsockOp.Rst);
        guest.Device.ConnectionCount.Should().Be(0);
    }

    [Fact]
    public async Task Stop_resets_every_connection_keeps_the_listener_and_the_next_start_begins_afresh()
    {
        using var guest = new FakeVsockGuest();
        guest.PostRx(32);
        var hosts = new List<NetworkStream>();
        for (int i = 0; i < 3; i++)
        {
            hosts.Add((await OpenFromHostAsync(guest, 1024)).Host);
        }
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"{guest.HybridPath}_7200"));
        listener.Listen();
        await OpenFromGuestAsync(guest, 50200, 7200);
        using var accepted = await listener.AcceptAsync();
        await using var guestInitiated = new NetworkStream(accepted);
        var oldRx = guest.Rx;
        var oldTx = guest.Tx;

        guest.Device.Stop();
        oldRx.Forbidden = true;
        oldTx.Forbidden = true;

        guest.Device.ConnectionCount.Should().Be(0);
        foreach (var host in hosts)
        {
            await ExpectClosedAsync(host);
            await host.DisposeAsync();
        }
        await ExpectClosedAsync(guestInitiated);
        File.Exists(guest.HybridPath).Should().BeTrue();

        guest.Start();
        guest.PostRx(8);
        var (again, connection) = await OpenFromHostAsync(guest, 1024);
        await using var _ = again;
        byte[] data = Pattern(4000, 15);
        await again.WriteAsync(data);
        (await connection.ReadAsync(data.Length)).Should().Equal(data);
        oldRx.Violations.Concat(oldTx.Violations).Should().BeEmpty("a stopped device keeps off its old queues");
    }

    [Fact]
    public async Task Dispose_closes_every_socket_and_deletes_the_hybrid_socket()
    {
        var guest = new FakeVsockGuest();
        guest.PostRx(8);
        var (host, _) = await OpenFromHostAsync(guest, 1024);
        await using var __ = host;

        guest.Device.Dispose();

        await ExpectClosedAsync(host);
        File.Exists(guest.HybridPath).Should().BeFalse();
        await guest.Device.AcceptLoop.WaitAsync(FakeVsockGuest.Patience);
        guest.Dispose();
    }
}
