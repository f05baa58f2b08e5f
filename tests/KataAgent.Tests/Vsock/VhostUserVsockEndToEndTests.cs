using System.Diagnostics;
using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Host.Transport.HybridVsock;
using KataAgent.Host.Vsock;
using Xunit;
using Xunit.Abstractions;
using static KataAgent.Tests.Vsock.VsockTestSupport;

namespace KataAgent.Tests.Vsock;

/// <summary>
/// <see cref="VhostUserVsockBackend"/> whole: the real vhost-user server, guest memory in a memfd, split rings in
/// it, the test as qemu and the guest driver (<see cref="RingVsockDriver"/>), a host client through our
/// <c>hvsock</c> handshake.
/// </summary>
public class VhostUserVsockEndToEndTests(ITestOutputHelper output)
{
    private const uint Cid = 42;

    [Fact]
    public async Task A_hybrid_connection_through_the_real_server_carries_bytes_both_ways_and_ends_with_the_guests_RST()
    {
        using var directory = new TempDirectory();
        var log = new StringWriter();
        await using var backend = VhostUserVsockBackend.Start(new VhostUserVsockOptions
        {
            VhostUserSocketPath = directory.File("vhost.sock"),
            HybridSocketPath = directory.File("vsock.sock"),
            GuestCid = Cid,
            Log = log,
        });
        using var driver = new RingVsockDriver(backend.VhostUserSocketPath);
        driver.Realize().Should().Be(Cid, "GET_CONFIG answers le64 guest_cid");
        driver.StartDriver();

        await using var host = new NetworkStream(await ConnectAsync(backend.HybridSocketPath), ownsSocket: true);
        var handshake = HybridVsockHandshake.ConnectAsync(host, backend.HybridSocketPath, 1024, FakeVsockGuest.Patience, CancellationToken.None);
        var request = await Task.Run(() => driver.WaitFor(p => p.Op == VsockOp.Request, "REQUEST"));
        request.Header.DstCid.Should().Be(Cid);
        request.Header.DstPort.Should().Be(1024u);
        uint hostPort = request.Header.SrcPort;
        driver.SendTx(Header(hostPort, VsockOp.Response));
        (await handshake).Should().Be(hostPort);

        byte[] down = Pattern(100_000, 1);
        await host.WriteAsync(down);
        byte[] received = await Task.Run(() => ReadFromRings(driver, hostPort, down.Length));
        received.Should().Equal(down);

        byte[] up = Pattern(150_000, 2);
        for (int offset = 0; offset < up.Length; offset += 16 * 1024)
        {
            driver.SendTx(Header(hostPort, VsockOp.Rw), up.AsSpan(offset, Math.Min(16 * 1024, up.Length - offset)));
        }
        (await ReadExactlyAsync(host, up.Length)).Should().Equal(up);

        driver.SendTx(Header(hostPort, VsockOp.Rst));
        await ExpectClosedAsync(host);

        // The guest powers off: the rings stop; the hybrid socket still answers, and refuses while no driver runs.
        driver.ResetDriver();
        await using var late = new NetworkStream(await ConnectAsync(backend.HybridSocketPath), ownsSocket: true);
        var refused = HybridVsockHandshake.ConnectAsync(late, backend.HybridSocketPath, 1024, FakeVsockGuest.Patience, CancellationToken.None);
        await FluentActions.Awaiting(() => refused).Should().ThrowAsync<HybridVsockException>();
    }

    [Fact]
    public async Task Throughput_through_the_real_server_both_ways()
    {
        using var directory = new TempDirectory();
        await using var backend = VhostUserVsockBackend.Start(new VhostUserVsockOptions
        {
            VhostUserSocketPath = directory.File("vhost.sock"),
            HybridSocketPath = directory.File("vsock.sock"),
            GuestCid = Cid,
        });
        using var driver = new RingVsockDriver(backend.VhostUserSocketPath);
        driver.Realize();
        driver.StartDriver();
        await using var host = new NetworkStream(await ConnectAsync(backend.HybridSocketPath), ownsSocket: true);
        var handshake = HybridVsockHandshake.ConnectAsync(host, backend.HybridSocketPath, 1024, FakeVsockGuest.Patience, CancellationToken.None);
        var request = await Task.Run(() => driver.WaitFor(p => p.Op == VsockOp.Request, "REQUEST"));
        uint hostPort = request.Header.SrcPort;
        driver.SendTx(Header(hostPort, VsockOp.Response));
        await handshake;

        // Guest to host (container stdout's direction): 64 KiB packets within the device's credit.
        const int Size = 64 * 1024 * 1024;
        byte[] up = Pattern(Size, 3);
        var reader = Task.Run(async () =>
        {
            byte[] got = new byte[Size];
            await host.ReadExactlyAsync(got);
            return got;
        });
        var clock = Stopwatch.StartNew();
        await Task.Run(() => WriteThroughRings(driver, hostPort, request.Header, up));
        byte[] arrived = await reader;
        double upSeconds = clock.Elapsed.TotalSeconds;
        arrived.AsSpan().SequenceEqual(up).Should().BeTrue("every byte arrives, in order");

        byte[] down = Pattern(Size / 4, 4);
        clock.Restart();
        var writer = host.WriteAsync(down).AsTask();
        byte[] received = await Task.Run(() => ReadFromRings(driver, hostPort, down.Length));
        await writer;
        double downSeconds = clock.Elapsed.TotalSeconds;
        received.AsSpan().SequenceEqual(down).Should().BeTrue("every byte arrives, in order");

        output.WriteLine($"guest->host {Size / 1048576} MiB in {upSeconds:0.00} s: {Size / 1048576 / upSeconds:0} MiB/s (64 KiB packets)");
        output.WriteLine($"host->guest {down.Length / 1048576} MiB in {downSeconds:0.00} s: {down.Length / 1048576 / downSeconds:0} MiB/s (4 KiB rx buffers)");
    }

    private static VsockPacketHeader Header(uint hostPort, VsockOp op, uint fwdCnt = 0) => new()
    {
        SrcCid = Cid,
        DstCid = VirtioVsockDevice.HostCid,
        SrcPort = 1024,
        DstPort = hostPort,
        Type = VsockPacketHeader.TypeStream,
        Op = op,
        BufAlloc = 256 * 1024,
        FwdCnt = fwdCnt,
    };

    private static async Task<Socket> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>The guest reads <paramref name="count"/> bytes as Linux does: credit updates once 64 KiB were consumed, and on request.</summary>
    private static byte[] ReadFromRings(RingVsockDriver driver, uint hostPort, int count)
    {
        byte[] data = new byte[count];
        int offset = 0;
        uint told = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (offset < count)
        {
            var packets = driver.ReadRx();
            foreach (var packet in packets)
            {
                if (packet.Header.SrcPort != hostPort)
                {
                    throw new InvalidOperationException($"a packet for another connection: {packet}");
                }
                if (packet.Op == VsockOp.Rw)
                {
                    packet.Payload.CopyTo(data, offset);
                    offset += packet.Payload.Length;
                    if ((uint)offset - told > 256 * 1024u)
                    {
                        throw new InvalidOperationException($"the device sent {(uint)offset - told} bytes beyond the guest's last fwd_cnt, more than its buf_alloc");
                    }
                }
                else if (packet.Op != VsockOp.CreditRequest && packet.Op != VsockOp.CreditUpdate)
                {
                    throw new InvalidOperationException($"unexpected {packet}");
                }
                if (packet.Op == VsockOp.CreditRequest || (uint)offset - told >= 64 * 1024)
                {
                    told = (uint)offset;
                    driver.SendTx(Header(hostPort, VsockOp.CreditUpdate, told));
                }
            }
            if (packets.Count == 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"host->guest stalled at {offset} of {count}");
                }
                driver.Calls[0].Wait(TimeSpan.FromMilliseconds(5));
            }
        }
        return data;
    }

    /// <summary>The guest writes as Linux does: never beyond the device's credit, waiting for its updates.</summary>
    private static void WriteThroughRings(RingVsockDriver driver, uint hostPort, VsockPacketHeader first, byte[] data)
    {
        uint peerBufAlloc = first.BufAlloc;
        uint peerFwdCnt = first.FwdCnt;
        uint sent = 0;
        int offset = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (offset < data.Length)
        {
            foreach (var packet in driver.ReadRx())
            {
                peerBufAlloc = packet.Header.BufAlloc;
                peerFwdCnt = packet.Header.FwdCnt;
                if (packet.Op is not VsockOp.CreditUpdate)
                {
                    throw new InvalidOperationException($"unexpected {packet}");
                }
            }
            uint credit = peerBufAlloc - (sent - peerFwdCnt);
            if (credit == 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"guest->host stalled at {offset} of {data.Length}: no credit");
                }
                driver.Calls[0].Wait(TimeSpan.FromMilliseconds(5));
                continue;
            }
            int length = (int)Math.Min(Math.Min(credit, 64u * 1024), (uint)(data.Length - offset));
            driver.SendTx(Header(hostPort, VsockOp.Rw), data.AsSpan(offset, length));
            offset += length;
            sent += (uint)length;
        }
        driver.WaitTxDrained();
    }
}
