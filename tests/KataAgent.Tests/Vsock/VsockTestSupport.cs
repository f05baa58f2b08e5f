using System.Net.Sockets;
using FluentAssertions;
using KataAgent.Host.Transport.HybridVsock;
using KataAgent.Host.Vsock;

namespace KataAgent.Tests.Vsock;

/// <summary>Opening connections both ways and reading host sockets with deadlines, for the device tests.</summary>
internal static class VsockTestSupport
{
    /// <summary>A hybrid client's CONNECT through our own handshake code, answered by the fake guest.</summary>
    public static async Task<(NetworkStream Host, GuestConnection Guest)> OpenFromHostAsync(FakeVsockGuest guest, uint guestPort, uint guestBufAlloc = 256 * 1024)
    {
        var socket = await guest.ConnectHybridAsync();
        var stream = new NetworkStream(socket, ownsSocket: true);
        var handshake = HybridVsockHandshake.ConnectAsync(stream, guest.HybridPath, guestPort, FakeVsockGuest.Patience, CancellationToken.None);
        var request = await guest.NextAsync(p => p.Op == VsockOp.Request && p.Header.DstPort == guestPort, what: $"REQUEST for guest port {guestPort}");
        request.Header.SrcCid.Should().Be(VirtioVsockDevice.HostCid);
        request.Header.DstCid.Should().Be(FakeVsockGuest.Cid);
        request.Header.Type.Should().Be(VsockPacketHeader.TypeStream);
        var connection = new GuestConnection(guest, guestPort, request.Header.SrcPort, guestBufAlloc);
        connection.Observe(request);
        connection.Send(VsockOp.Response);
        uint hostPort = await handshake;
        hostPort.Should().Be(request.Header.SrcPort);
        return (stream, connection);
    }

    /// <summary>The guest connects to host port <paramref name="hostPort"/>; the device answers RESPONSE.</summary>
    public static async Task<GuestConnection> OpenFromGuestAsync(FakeVsockGuest guest, uint guestPort, uint hostPort, uint guestBufAlloc = 256 * 1024)
    {
        var connection = new GuestConnection(guest, guestPort, hostPort, guestBufAlloc);
        connection.Send(VsockOp.Request);
        await connection.ExpectAsync(VsockOp.Response);
        return connection;
    }

    public static async Task<byte[]> ReadExactlyAsync(Stream stream, int count, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? FakeVsockGuest.Patience);
        byte[] data = new byte[count];
        await stream.ReadExactlyAsync(data, deadline.Token);
        return data;
    }

    /// <summary>Waits for EOF (or a reset) on the host socket; fails if data or nothing comes.</summary>
    public static async Task ExpectClosedAsync(Stream stream, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? FakeVsockGuest.Patience);
        byte[] one = new byte[1];
        int n;
        try
        {
            n = await stream.ReadAsync(one, deadline.Token);
        }
        catch (IOException)
        {
            return;
        }
        n.Should().Be(0, "the host socket should be at EOF");
    }

    public static byte[] Pattern(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Polls <paramref name="condition"/> until true or the deadline.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? FakeVsockGuest.Patience);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"never: {what}");
            }
            await Task.Delay(10);
        }
    }
}
