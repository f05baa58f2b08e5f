using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using CliWrap;
using KataAgent.Host;
using KataAgent.Host.Transport;

namespace KataAgent.Bench;

/// <summary>
/// Runs the selected sections (<see cref="BenchSections"/>). The foundation's own benchmarks:
/// Check round-trip latency over gRPC and over ttrpc on the same agent socket, each beside a raw unix socket
/// ping-pong moving the same bytes per round trip; the agent's idle RSS; its binary size. Prints a Markdown
/// table and writes it to out/bench/foundation.md.
/// </summary>
internal static class BenchRunner
{
    private const int Warmup = 500;
    private const int Iterations = 5000;

    /// <summary>args: the repository root, then the sections to run (<see cref="BenchSections"/>; all when none).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        string root = args.Length > 0 ? args[0] : Directory.GetCurrentDirectory();
        ISet<string> sections;
        try
        {
            sections = BenchSections.Select(args.Skip(1).ToArray());
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"bench: {e.Message}");
            return 2;
        }
        if (sections.Contains(BenchSections.Foundation))
        {
            await FoundationAsync(root);
        }
        if (sections.Contains(BenchSections.Containers))
        {
            await ContainerBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Stdout))
        {
            await Stdout.StdoutBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Boot))
        {
            await Boot.BootBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Workload))
        {
            await Boot.LaunchToWorkloadBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Network))
        {
            await Network.NetworkBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Vsock))
        {
            await Vsock.VsockBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Rootfs))
        {
            await Shares.RootfsShareBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Shim))
        {
            await Shim.ShimBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Images))
        {
            await Images.ImagesBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Pods))
        {
            await Pods.PodBench.RunAsync(root);
        }
        if (sections.Contains(BenchSections.Checkpoint))
        {
            await Checkpoints.CheckpointBench.RunAsync(root);
        }
        return 0;
    }

    private static async Task FoundationAsync(string root)
    {
        var rows = new List<(string Name, string Value, string Note)>();
        await using (var agent = StandaloneAgent.Start(root, "ka-bench-"))
        {
            string agentBinary = agent.Binary;
            string scratch = agent.Scratch;
            string socketPath = agent.SocketPath;
            var connector = CountingConnector(socketPath);
            var startClock = Stopwatch.StartNew();
            await using var client = await AgentClient.ConnectAsync(connector, new AgentClientOptions { RetryInterval = TimeSpan.FromMilliseconds(2) });
            double readyMs = startClock.Elapsed.TotalMilliseconds;
            await Task.Delay(1000);
            var idle = Memory(agent.ProcessId);
            await Task.Delay(2000);
            var settled = Memory(agent.ProcessId);

            var (grpc, requestBytes, responseBytes) = await CheckLatencyAsync(client);
            long busyRss = Memory(agent.ProcessId).Rss;

            var raw = await RawPingPongAsync(scratch, requestBytes, responseBytes);

            // The same agent and socket, now over ttrpc (the agent tells the protocols apart by a connection's first bytes).
            await using var ttrpcClient = await AgentClient.ConnectAsync(CountingConnector(socketPath), new AgentClientOptions { Protocol = AgentProtocol.Ttrpc });
            var (ttrpc, ttrpcUp, ttrpcDown) = await CheckLatencyAsync(ttrpcClient);
            var ttrpcRaw = await RawPingPongAsync(scratch, ttrpcUp, ttrpcDown);

            rows.Add(("Check round trip, gRPC/HTTP2 over unix socket (p50 / p99)", $"{Percentiles.Of(grpc, 50):0} µs / {Percentiles.Of(grpc, 99):0} µs", $"{Iterations} calls after {Warmup} warm-up, one connection, host library client"));
            rows.Add(("Raw unix-socket ping-pong of the same bytes (p50 / p99)", $"{Percentiles.Of(raw, 50):0} µs / {Percentiles.Of(raw, 99):0} µs", $"{requestBytes} B up, {responseBytes} B down per round trip, measured from the Check traffic"));
            rows.Add(("Ratio gRPC / raw (p50)", $"{Percentiles.Of(grpc, 50) / Percentiles.Of(raw, 50):0.0}×", ""));
            rows.Add(("Check round trip, ttrpc over the same unix socket (p50 / p99)", $"{Percentiles.Of(ttrpc, 50):0} µs / {Percentiles.Of(ttrpc, 99):0} µs", $"{Iterations} calls after {Warmup} warm-up, one connection, host library client (TtrpcCallInvoker), same agent process"));
            rows.Add(("Raw unix-socket ping-pong of the ttrpc bytes (p50 / p99)", $"{Percentiles.Of(ttrpcRaw, 50):0} µs / {Percentiles.Of(ttrpcRaw, 99):0} µs", $"{ttrpcUp} B up, {ttrpcDown} B down per round trip, measured from the ttrpc Check traffic"));
            rows.Add(("Ratio ttrpc / raw (p50)", $"{Percentiles.Of(ttrpc, 50) / Percentiles.Of(ttrpcRaw, 50):0.0}×", "goal: within 2×"));
            rows.Add(("Ratio ttrpc / gRPC (p50)", $"{Percentiles.Of(ttrpc, 50) / Percentiles.Of(grpc, 50):0.00}×", "both measured in this run, same agent"));
            rows.Add(("Agent start to first Check answered", $"{readyMs:0} ms", "process start, connect and Check from this client over gRPC (the first HTTP/2 connection starts the web host)"));
            var ttrpcOnly = await TtrpcOnlyMemoryAsync(agentBinary, scratch);
            rows.Add(("Agent start to first Check answered over ttrpc", $"{ttrpcOnly.ReadyMs:0} ms", "a second agent process: process start, connect and Check over ttrpc (no web host built)"));
            rows.Add(("Agent idle RSS, served over gRPC", idle.Describe(), "1 s after the first Check, one client connected"));
            rows.Add(("Agent idle RSS, served over gRPC, 3 s after the first Check", settled.Describe(), "the same agent, later: the idle heap given back (the agent's HeapTrimmer) whenever that happened after the 1 s row"));
            rows.Add(("Agent idle RSS, only ttrpc used", ttrpcOnly.Idle.Describe(), "a second agent process: one ttrpc connection, one Check, 1 s later"));
            rows.Add(("Agent idle RSS, only ttrpc used, 3 s after the first Check", ttrpcOnly.Settled.Describe(), "the same, 3 s after the Check"));
            rows.Add(("Agent RSS after the latency run", $"{busyRss / 1024.0:0.0} MiB", $"after {Warmup + Iterations} Checks"));
            rows.Add(("Agent binary size (out/kata-agent)", $"{new FileInfo(agentBinary).Length / 1024.0 / 1024.0:0.0} MiB", "Native AOT, stripped, linux-x64"));
        }

        await BenchReport.WriteAsync(root, "foundation", "", rows);
    }

    /// <summary>A unix-socket connector whose streams count their bytes (<see cref="CountingStream"/>).</summary>
    private static DelegateConnector CountingConnector(string socketPath) => new(async ct =>
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
        return new CountingStream(new NetworkStream(socket, ownsSocket: true));
    }, $"unix://{socketPath}");

    /// <summary>Check round trips in µs after a warm-up, and the bytes each moved up and down.</summary>
    private static async Task<(List<double> Samples, int Up, int Down)> CheckLatencyAsync(AgentClient client)
    {
        for (int i = 0; i < Warmup; i++)
        {
            await client.CheckAsync();
        }
        long written = Interlocked.Read(ref CountingStream.BytesWritten);
        long read = Interlocked.Read(ref CountingStream.BytesRead);
        var samples = new List<double>(Iterations);
        for (int i = 0; i < Iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await client.CheckAsync();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        int up = (int)((Interlocked.Read(ref CountingStream.BytesWritten) - written) / Iterations);
        int down = (int)((Interlocked.Read(ref CountingStream.BytesRead) - read) / Iterations);
        return (samples, up, down);
    }

    /// <summary>Request of <paramref name="up"/> bytes, reply of <paramref name="down"/> bytes, over a unix socket to an echo-like server thread.</summary>
    private static async Task<List<double>> RawPingPongAsync(string scratch, int up, int down)
    {
        string path = Path.Combine(scratch, "raw.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var server = Task.Run(async () =>
        {
            using Socket peer = await listener.AcceptAsync();
            var request = new byte[up];
            var reply = new byte[down];
            while (true)
            {
                int got = 0;
                while (got < up)
                {
                    int n = await peer.ReceiveAsync(request.AsMemory(got));
                    if (n == 0)
                    {
                        return;
                    }
                    got += n;
                }
                await peer.SendAsync(reply);
            }
        });
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
        var send = new byte[up];
        var receive = new byte[down];
        var samples = new List<double>(Iterations);
        for (int i = 0; i < Warmup + Iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await client.SendAsync(send);
            int got = 0;
            while (got < down)
            {
                got += await client.ReceiveAsync(receive.AsMemory(got));
            }
            if (i >= Warmup)
            {
                samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
        }
        client.Shutdown(SocketShutdown.Both);
        await server;
        return samples;
    }

    /// <summary>
    /// Starts another agent, talks only ttrpc to it (one connection, one Check) and reads its memory 1 s and 3 s
    /// later: what an agent costs whose host never speaks gRPC (Kata's runtimes).
    /// </summary>
    private static async Task<(AgentMemory Idle, AgentMemory Settled, double ReadyMs)> TtrpcOnlyMemoryAsync(string agentBinary, string scratch)
    {
        string socketPath = Path.Combine(scratch, "agent-ttrpc.sock");
        using var kill = new CancellationTokenSource();
        var startClock = Stopwatch.StartNew();
        var agent = Cli.Wrap(agentBinary).WithArguments(["--server-addr", $"unix://{socketPath}", "--log", "warn"])
            .WithValidation(CommandResultValidation.None).ExecuteAsync(kill.Token);
        try
        {
            // ConnectAsync answers once a Check has been answered over ttrpc.
            await using var client = await AgentClient.ConnectAsync($"unix://{socketPath}", new AgentClientOptions { Protocol = AgentProtocol.Ttrpc, RetryInterval = TimeSpan.FromMilliseconds(2) });
            double readyMs = startClock.Elapsed.TotalMilliseconds;
            await client.CheckAsync();
            await Task.Delay(1000);
            var idle = Memory(agent.ProcessId);
            await Task.Delay(2000);
            return (idle, Memory(agent.ProcessId), readyMs);
        }
        finally
        {
            kill.Cancel();
            try
            {
                await agent;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>VmRSS and its anonymous and file-backed parts (KiB) of process <paramref name="pid"/>, from /proc/PID/status.</summary>
    private static AgentMemory Memory(int pid)
    {
        var lines = File.ReadAllLines($"/proc/{pid}/status");
        long Field(string name) => long.Parse(lines.Single(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return new AgentMemory(Field("VmRSS"), Field("RssAnon"), Field("RssFile") + Field("RssShmem"), (int)Field("Threads"));
    }
}
