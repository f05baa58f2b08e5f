using System.Diagnostics;
using System.Net.Sockets;

namespace KataAgent.Bench.Stdout;

/// <summary>The floor the stdout benchmarks are measured against: bytes sent over a unix socket between two tasks of this process.</summary>
internal static class RawSocketCopy
{
    /// <summary>MiB/s of <paramref name="bytes"/> sent in <paramref name="blockSize"/> writes and read in reads of the same size.</summary>
    public static async Task<double> MeasureAsync(string scratch, long bytes, int blockSize)
    {
        string path = Path.Combine(scratch, $"copy-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var sender = Task.Run(async () =>
        {
            using Socket peer = await listener.AcceptAsync();
            var block = new byte[blockSize];
            for (long sent = 0; sent < bytes; sent += block.Length)
            {
                await peer.SendAsync(block);
            }
            peer.Shutdown(SocketShutdown.Send);
        });
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        long start = Stopwatch.GetTimestamp();
        await receiver.ConnectAsync(new UnixDomainSocketEndPoint(path));
        var buffer = new byte[blockSize];
        long total = 0;
        int n;
        while ((n = await receiver.ReceiveAsync(buffer)) > 0)
        {
            total += n;
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await sender;
        File.Delete(path);
        return total / 1024.0 / 1024.0 / seconds;
    }
}
