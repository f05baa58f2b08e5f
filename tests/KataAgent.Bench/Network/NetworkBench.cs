using CliWrap;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Testing.Network;

namespace KataAgent.Bench.Network;

/// <summary>
/// Pod networking (issue 5): TCP throughput and request latency from the node to the pod, for each
/// endpoint model, beside the same traffic to the same server running in the pod netns without a VM.
/// The pod is a <see cref="CniLikePodNetwork"/> (a bridge in a "node" netns, a veth into the pod netns,
/// as CNI's bridge plugin leaves it); the client runs in the node netns; the server is netbench.c in
/// both cases (in the VM, as a container's process). Prints a Markdown table and writes it to
/// out/bench/network.md.
/// </summary>
internal static class NetworkBench
{
    private const int Port = 5201;

    /// <summary>Per throughput run; three runs after one warm-up, the median counts.</summary>
    private const long TransferBytes = 128L * 1024 * 1024;

    private const int ThroughputRuns = 3;

    private const int RoundTrips = 2000;
    private const int RoundTripWarmup = 200;
    private const int Connections = 500;
    private const int ConnectionWarmup = 50;

    private static readonly NetworkModel[] Models = [NetworkModel.TcFilter, NetworkModel.Macvtap, NetworkModel.Passt];

    public static async Task RunAsync(string root)
    {
        string kernel = Path.Combine(root, "out", "vmlinuz");
        string initrd = Path.Combine(root, "out", "initrd.img");
        string scratch = Directory.CreateTempSubdirectory("ka-network-bench-").FullName;
        var results = new Dictionary<string, TrafficResult>();
        try
        {
            string netbench = await Netbench.CompileAsync(scratch);
            string rootfs = await BenchRootfs.CreateAsync(scratch);
            File.Copy(netbench, Path.Combine(rootfs, "bin", "netbench"));

            using var pod = new CniLikePodNetwork();
            var client = new NetbenchClient(netbench, pod.NodeName, CniLikePodNetwork.PodAddress, Port);

            // First, while the pod's eth0 still delivers to the pod netns itself: the endpoints take its traffic to the VM.
            using (var stop = new CancellationTokenSource())
            {
                var server = Cli.Wrap("ip").WithArguments(["netns", "exec", pod.PodName, netbench, "serve", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
                    .WithStandardErrorPipe(PipeTarget.ToDelegate(line => Console.Error.WriteLine($"network bench: no VM: {line}")))
                    .WithValidation(CommandResultValidation.None).ExecuteAsync(stop.Token);
                try
                {
                    await client.WaitAsync(TimeSpan.FromSeconds(30));
                    results["no VM"] = await MeasureAsync(client, "no VM");
                }
                finally
                {
                    stop.Cancel();
                    try
                    {
                        await server;
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }

            foreach (var model in Models)
            {
                string name = model.ToString().ToLowerInvariant();
                await using var sandbox = await Sandbox.StartAsync(new SandboxOptions
                {
                    Id = "netbench-" + name,
                    NetworkModel = model,
                    PortForwards = model == NetworkModel.Passt ? [new PortForward(Port, Port)] : [],
                    Vm = new QemuOptions
                    {
                        KernelPath = kernel,
                        InitrdPath = initrd,
                        StateDirectory = Path.Combine(scratch, "sandbox-" + name),
                        NetworkNamespacePath = pod.PodPath,
                    },
                }, CancellationToken.None);
                var spec = ContainerSpecs.Default(["/bin/netbench", "serve", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], terminal: false);
                var container = await sandbox.CreateContainerAsync("netbench", rootfs, spec, cancellationToken: CancellationToken.None);
                await container.StartAsync();
                await client.WaitAsync(TimeSpan.FromSeconds(120));
                results[name] = await MeasureAsync(client, name);
                await container.RemoveAsync();
                await container.DisposeAsync();
                await sandbox.DestroyAsync();
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        await BenchReport.WriteAsync(root, "network", ", node netns → pod IP, qemu TCG, 1 vCPU, 512 MiB", Rows(results));
    }

    private static async Task<TrafficResult> MeasureAsync(NetbenchClient client, string name)
    {
        var upload = new List<double>();
        var download = new List<double>();
        for (int run = 0; run <= ThroughputRuns; run++)
        {
            double up = await client.TransferAsync("upload", TransferBytes);
            double down = await client.TransferAsync("download", TransferBytes);
            Console.Error.WriteLine($"network bench: {name}: run {run}{(run == 0 ? " (warm-up)" : "")}: upload {up:0.0} MiB/s, download {down:0.0} MiB/s");
            if (run > 0)
            {
                upload.Add(up);
                download.Add(down);
            }
        }
        var roundTrips = (await client.LatenciesAsync("rr", RoundTripWarmup + RoundTrips)).Skip(RoundTripWarmup).ToList();
        var connections = (await client.LatenciesAsync("crr", ConnectionWarmup + Connections)).Skip(ConnectionWarmup).ToList();
        var result = new TrafficResult(Percentiles.Of(upload, 50), Percentiles.Of(download, 50),
            Percentiles.Of(roundTrips, 50), Percentiles.Of(roundTrips, 99), Percentiles.Of(connections, 50), Percentiles.Of(connections, 99));
        Console.Error.WriteLine($"network bench: {name}: {result}");
        return result;
    }

    private static IEnumerable<(string Name, string Value, string Note)> Rows(Dictionary<string, TrafficResult> results)
    {
        var baseline = results["no VM"];
        string mib = $"{TransferBytes / 1024 / 1024} MiB";
        yield return ("Upload node → pod, no VM", $"{baseline.UploadMiBps:0} MiB/s",
            $"netbench in the pod netns; median of {ThroughputRuns} runs of {mib} after 1 warm-up, from connected to the server's byte count received");
        foreach (var (name, r) in results.Where(r => r.Key != "no VM"))
        {
            yield return ($"Upload node → pod, {name}", $"{r.UploadMiBps:0} MiB/s ({r.UploadMiBps / baseline.UploadMiBps:0.000}× no VM)", $"the same, to netbench in a container in the VM");
        }
        yield return ("Download pod → node, no VM", $"{baseline.DownloadMiBps:0} MiB/s", $"the node asks for {mib} and reads them; median of {ThroughputRuns} runs after 1 warm-up");
        foreach (var (name, r) in results.Where(r => r.Key != "no VM"))
        {
            yield return ($"Download pod → node, {name}", $"{r.DownloadMiBps:0} MiB/s ({r.DownloadMiBps / baseline.DownloadMiBps:0.000}× no VM)", "");
        }
        yield return ("Request-response on one connection, no VM (p50 / p99)", $"{baseline.RoundTripP50:0} µs / {baseline.RoundTripP99:0} µs",
            $"netperf's TCP_RR: 1-byte request, 1-byte answer, TCP_NODELAY; {RoundTrips} after {RoundTripWarmup} warm-up");
        foreach (var (name, r) in results.Where(r => r.Key != "no VM"))
        {
            yield return ($"Request-response on one connection, {name} (p50 / p99)", $"{r.RoundTripP50:0} µs / {r.RoundTripP99:0} µs ({r.RoundTripP50 / baseline.RoundTripP50:0.0}× no VM at p50)", "");
        }
        yield return ("Connect, request, response, close, no VM (p50 / p99)", $"{baseline.ConnectionP50:0} µs / {baseline.ConnectionP99:0} µs",
            $"netperf's TCP_CRR: a new connection per 1-byte exchange; {Connections} after {ConnectionWarmup} warm-up");
        foreach (var (name, r) in results.Where(r => r.Key != "no VM"))
        {
            yield return ($"Connect, request, response, close, {name} (p50 / p99)", $"{r.ConnectionP50:0} µs / {r.ConnectionP99:0} µs ({r.ConnectionP50 / baseline.ConnectionP50:0.0}× no VM at p50)", "");
        }
    }
}
