using System.Diagnostics;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Bench;

/// <summary>A container's stdout read through kataagent.v1.Streaming/Attach: one stream, no round trip per chunk.</summary>
internal static class StreamingBench
{
    public static async Task<double> StdoutThroughputAsync(AgentClient client, string rootfs, long bytes)
    {
        await StreamOnceAsync(client, rootfs, "attach-warm", 16L * 1024 * 1024);
        return await StreamOnceAsync(client, rootfs, "attach", bytes);
    }

    private static async Task<double> StreamOnceAsync(AgentClient client, string rootfs, string id, long bytes)
    {
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = BenchRootfs.AgentSpec(rootfs, BenchRootfs.BlockProducer(bytes)) });
        try
        {
            using var call = new Streaming.StreamingClient(client.CallInvoker).Attach();
            await call.RequestStream.WriteAsync(new AttachRequest { Start = new AttachStart { ContainerId = id } });
            long start = Stopwatch.GetTimestamp();
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            long total = 0;
            int? status = null;
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                var response = call.ResponseStream.Current;
                if (response.KindCase == AttachResponse.KindOneofCase.Stdout)
                {
                    total += response.Stdout.Length;
                }
                else if (response.KindCase == AttachResponse.KindOneofCase.Exit)
                {
                    status = response.Exit.Status;
                }
            }
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (total != bytes || status != 0)
            {
                throw new InvalidOperationException($"Attach stdout of {id}: {total} bytes of {bytes}, exit status {status}");
            }
            return total / 1024.0 / 1024.0 / seconds;
        }
        finally
        {
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
        }
    }
}
