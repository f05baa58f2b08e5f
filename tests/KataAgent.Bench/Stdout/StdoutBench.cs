using System.Diagnostics;
using System.Net.Sockets;
using CliWrap;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Bench.Stdout;

/// <summary>
/// A container's stdout through the agent, stand-alone over a unix socket: ReadStdout in a loop, Attach over gRPC and
/// over ttrpc, each beside the floors measured in the same run: a raw unix-socket copy (the yardstick), the
/// producer alone into a pipe (its own ceiling), and a relay of the producer's pipe onto a unix socket with one read and
/// one write per block (what any agent must at least do). Passes run in turns, so load drift hits every row alike; each
/// row is the median of its passes. Prints a Markdown table and writes it to out/bench/stdout.md.
/// </summary>
internal static class StdoutBench
{
    private const long StreamBytes = 256L * 1024 * 1024;
    private const int ReadLength = 1024 * 1024;
    private const int RelayBlock = 64 * 1024;
    private const int Passes = 3;

    public static async Task RunAsync(string root)
    {
        var rows = new List<(string Name, string Value, string Note)>();
        await using (var agent = StandaloneAgent.Start(root, "ka-sbench-"))
        {
            string scratch = agent.Scratch;
            string rootfs = await BenchRootfs.CreateAsync(scratch);
            var options = new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20) };
            await using var grpc = await AgentClient.ConnectAsync(agent.Address, options with { Protocol = AgentProtocol.Grpc });
            await using var ttrpc = await AgentClient.ConnectAsync(agent.Address, options with { Protocol = AgentProtocol.Ttrpc });
            await ReadStdoutOnceAsync(grpc, rootfs, "warm-read", 16L * 1024 * 1024);
            await AttachOnceAsync(grpc, rootfs, "warm-grpc", 16L * 1024 * 1024);
            await AttachOnceAsync(ttrpc, rootfs, "warm-ttrpc", 16L * 1024 * 1024);

            var readStdout = new List<double>();
            var attachGrpc = new List<double>();
            var attachTtrpc = new List<double>();
            var raw = new List<double>();
            var producer = new List<double>();
            var relay = new List<double>();
            var cpuGrpc = new List<(double Agent, double Client)>();
            var cpuTtrpc = new List<(double Agent, double Client)>();
            int reads = 0;
            for (int pass = 0; pass < Passes; pass++)
            {
                var (mibs, count) = await ReadStdoutOnceAsync(grpc, rootfs, $"read{pass}", StreamBytes);
                readStdout.Add(mibs);
                reads = count;
                attachGrpc.Add(await WithCpuAsync(agent.ProcessId, cpuGrpc, () => AttachOnceAsync(grpc, rootfs, $"grpc{pass}", StreamBytes)));
                attachTtrpc.Add(await WithCpuAsync(agent.ProcessId, cpuTtrpc, () => AttachOnceAsync(ttrpc, rootfs, $"ttrpc{pass}", StreamBytes)));
                raw.Add(await RawSocketCopy.MeasureAsync(scratch, StreamBytes, ReadLength));
                producer.Add(await ProducerIntoPipeAsync(rootfs));
                relay.Add(await RelayFloorAsync(scratch, rootfs));
            }
            double rawMiBs = Percentiles.Of(raw, 50);
            string command = string.Join(' ', BenchRootfs.BlockProducer(StreamBytes));
            string passes = $"median of {Passes} passes taken in turns with the other rows";
            rows.Add(("Container stdout through ReadStdout", $"{Percentiles.Of(readStdout, 50):0} MiB/s", $"busybox `{command}` in the container, ReadStdout len {ReadLength} in a loop until EOF over gRPC, timed from StartContainer; {reads} calls; {passes}"));
            rows.Add(("Container stdout through Attach over gRPC", $"{Percentiles.Of(attachGrpc, 50):0} MiB/s", $"the same workload, kataagent.v1.Streaming/Attach down one HTTP/2 stream; {passes}"));
            rows.Add(("Container stdout through Attach over ttrpc", $"{Percentiles.Of(attachTtrpc, 50):0} MiB/s", $"the same workload and call, one ttrpc stream on a second connection to the same agent; {passes}"));
            rows.Add(("Raw unix-socket copy of the same bytes", $"{rawMiBs:0} MiB/s", $"{StreamBytes / 1024 / 1024} MiB in {ReadLength / 1024} KiB writes and reads between two tasks of this process; {passes}"));
            rows.Add(("The producer alone into a pipe", $"{Percentiles.Of(producer, 50):0} MiB/s", $"the same busybox `dd`, no container, its pipe drained by this process: the producer's own ceiling; {passes}"));
            rows.Add(("Relay floor: the producer's pipe onto a unix socket", $"{Percentiles.Of(relay, 50):0} MiB/s", $"the same `dd` into a pipe, one thread reading it in {RelayBlock / 1024} KiB blocks and writing each to a unix socket, another reading the socket: the least any agent does; {passes}"));
            rows.Add(("CPU per 256 MiB through Attach, agent / client", $"{Median(cpuGrpc, c => c.Agent):0} / {Median(cpuGrpc, c => c.Client):0} ms (gRPC), {Median(cpuTtrpc, c => c.Agent):0} / {Median(cpuTtrpc, c => c.Client):0} ms (ttrpc)",
                $"utime + stime of the agent (its threads, not the container) and of this process over each Attach pass; barely moved by other load on the machine, unlike MiB/s; {passes}"));
            rows.Add(("Ratio Attach / raw", $"{Percentiles.Of(attachGrpc, 50) / rawMiBs * 100:0} % (gRPC), {Percentiles.Of(attachTtrpc, 50) / rawMiBs * 100:0} % (ttrpc)", "issue 16's goal: at least 50 %"));
            rows.Add(("Ratio Attach / relay floor", $"{Percentiles.Of(attachGrpc, 50) / Percentiles.Of(relay, 50) * 100:0} % (gRPC), {Percentiles.Of(attachTtrpc, 50) / Percentiles.Of(relay, 50) * 100:0} % (ttrpc)", "the share of what this producer allows at all"));
        }
        await BenchReport.WriteAsync(root, "stdout", ", agent stand-alone (no VM)", rows);
    }

    /// <summary>Runs <paramref name="measure"/> and records the CPU the agent and this process spent in it.</summary>
    private static async Task<double> WithCpuAsync(int agentPid, List<(double Agent, double Client)> cpu, Func<Task<double>> measure)
    {
        double agentBefore = CpuTime.Of(agentPid);
        double clientBefore = CpuTime.OfThisProcess();
        double result = await measure();
        cpu.Add((CpuTime.Of(agentPid) - agentBefore, CpuTime.OfThisProcess() - clientBefore));
        return result;
    }

    private static double Median(List<(double Agent, double Client)> cpu, Func<(double Agent, double Client), double> part) =>
        Percentiles.Of(cpu.Select(part).ToList(), 50);

    /// <summary>MiB/s of a container's stdout read back with ReadStdout, start to end of stream, and how many calls it took.</summary>
    private static async Task<(double MiBs, int Reads)> ReadStdoutOnceAsync(AgentClient client, string rootfs, string id, long bytes)
    {
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = BenchRootfs.AgentSpec(rootfs, BenchRootfs.BlockProducer(bytes)) });
        try
        {
            long start = Stopwatch.GetTimestamp();
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            long total = 0;
            int reads = 0;
            while (true)
            {
                var chunk = await client.ReadStdoutAsync(new ReadStreamRequest { ContainerId = id, Len = ReadLength });
                if (chunk.Data.IsEmpty)
                {
                    break;
                }
                total += chunk.Data.Length;
                reads++;
            }
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            int status = (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id })).Status;
            if (total != bytes || status != 0)
            {
                throw new InvalidOperationException($"stdout of {id}: {total} bytes of {bytes}, exit status {status}");
            }
            return (total / 1024.0 / 1024.0 / seconds, reads);
        }
        finally
        {
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
        }
    }

    /// <summary>MiB/s of a container's stdout through kataagent.v1.Streaming/Attach: one stream, no round trip per chunk.</summary>
    public static async Task<double> AttachOnceAsync(AgentClient client, string rootfs, string id, long bytes)
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

    /// <summary>MiB/s of the rootfs's busybox writing <see cref="StreamBytes"/> into a pipe this process drains.</summary>
    private static async Task<double> ProducerIntoPipeAsync(string rootfs)
    {
        long start = Stopwatch.GetTimestamp();
        await Cli.Wrap(Path.Combine(rootfs, "bin", "busybox")).WithArguments(BenchRootfs.BlockProducer(StreamBytes))
            .WithStandardOutputPipe(PipeTarget.ToStream(Stream.Null)).ExecuteAsync();
        return StreamBytes / 1024.0 / 1024.0 / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>
    /// MiB/s of the producer's output relayed from its pipe onto a unix socket by one thread (blocking read, blocking
    /// send, one buffer) and read off the socket by another: the relay an agent does, with nothing else.
    /// </summary>
    private static async Task<double> RelayFloorAsync(string scratch, string rootfs)
    {
        string path = Path.Combine(scratch, $"relay-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        receiver.Connect(new UnixDomainSocketEndPoint(path));
        using Socket sender = listener.Accept();
        var psi = new ProcessStartInfo(Path.Combine(rootfs, "bin", "busybox")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in BenchRootfs.BlockProducer(StreamBytes))
        {
            psi.ArgumentList.Add(arg);
        }
        long start = Stopwatch.GetTimestamp();
        using var process = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException("busybox did not start");
        var discarded = process.StandardError.ReadToEndAsync(); // dd's record counts
        var relay = new Thread(() =>
        {
            var block = new byte[RelayBlock];
            Stream pipe = process.StandardOutput.BaseStream;
            int n;
            while ((n = pipe.Read(block, 0, block.Length)) > 0)
            {
                sender.Send(block.AsSpan(0, n));
            }
            sender.Shutdown(SocketShutdown.Send);
        });
        relay.Start();
        long total = await Task.Run(() =>
        {
            var buffer = new byte[RelayBlock];
            long received = 0;
            int n;
            while ((n = receiver.Receive(buffer)) > 0)
            {
                received += n;
            }
            return received;
        });
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        relay.Join();
        await process.WaitForExitAsync();
        await discarded;
        File.Delete(path);
        if (total != StreamBytes)
        {
            throw new InvalidOperationException($"relay floor: {total} bytes of {StreamBytes}");
        }
        return total / 1024.0 / 1024.0 / seconds;
    }
}
