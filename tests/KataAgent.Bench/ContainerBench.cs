using System.Diagnostics;
using System.Text;
using CliWrap;
using KataAgent.Host;
using KataAgent.Protocols.Agent;

namespace KataAgent.Bench;

/// <summary>
/// Container benchmarks against the published agent, stand-alone over a unix socket: a container
/// run to completion (create, start, wait, remove) beside `crun run` of the same bundle; exec
/// latency into a running container (stdout throughput is its own section, Stdout/StdoutBench). Prints a Markdown table and writes it to out/bench/containers.md.
/// </summary>
internal static class ContainerBench
{
    private const int Warmup = 10;
    private const int Runs = 100;

    public static async Task RunAsync(string root)
    {
        var rows = new List<(string Name, string Value, string Note)>();
        await using (var agent = StandaloneAgent.Start(root, "ka-cbench-"))
        {
            string scratch = agent.Scratch;
            string socketPath = agent.SocketPath;
            string rootfs = await BenchRootfs.CreateAsync(scratch);
            await using var client = await AgentClient.ConnectAsync($"unix://{socketPath}", new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20) });

            var agentRuns = await RunToCompletionAsync(client, rootfs, "run");
            rows.Add(("Container run to completion, `/bin/true`, through the agent (p50 / p99)", $"{Percentiles.Of(agentRuns, 50):0.0} ms / {Percentiles.Of(agentRuns, 99):0.0} ms",
                $"CreateContainer + StartContainer + WaitProcess + RemoveContainer over one gRPC unix-socket connection, {Runs} runs after {Warmup} warm-up, busybox rootfs, pid/ipc/uts/mount namespaces, cgroup v2"));
            await using (var ttrpcClient = await AgentClient.ConnectAsync($"unix://{socketPath}", new AgentClientOptions { ConnectTimeout = TimeSpan.FromSeconds(20), Protocol = AgentProtocol.Ttrpc }))
            {
                var ttrpcRuns = await RunToCompletionAsync(ttrpcClient, rootfs, "trun");
                rows.Add(("The same run to completion over ttrpc, same agent and socket (p50 / p99)", $"{Percentiles.Of(ttrpcRuns, 50):0.0} ms / {Percentiles.Of(ttrpcRuns, 99):0.0} ms",
                    $"the same four calls through TtrpcCallInvoker, {Runs} runs after {Warmup} warm-up"));
                rows.Add(("Ratio ttrpc / gRPC run to completion (p50)", $"{Percentiles.Of(ttrpcRuns, 50) / Percentiles.Of(agentRuns, 50):0.00}×", "both measured in this run"));
            }
            await AddCrunRowsAsync(rows, scratch, rootfs, agentRuns, Path.Combine(root, "out", "kactl"), $"unix://{socketPath}");

            var exec = await ExecLatencyAsync(client, rootfs);
            rows.Add(("Exec of `/bin/true` into a running container (p50 / p99)", $"{Percentiles.Of(exec, 50):0.0} ms / {Percentiles.Of(exec, 99):0.0} ms",
                $"ExecProcess + WaitProcess into a `sleep` container, {Runs} execs after {Warmup} warm-up"));
        }

        await BenchReport.WriteAsync(root, "containers", ", agent stand-alone (no VM)", rows);
    }

    /// <summary>Milliseconds per container, create to removed.</summary>
    private static async Task<List<double>> RunToCompletionAsync(AgentClient client, string rootfs, string prefix)
    {
        var samples = new List<double>(Runs);
        for (int i = 0; i < Warmup + Runs; i++)
        {
            string id = $"{prefix}{i}";
            long start = Stopwatch.GetTimestamp();
            await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = id, OCI = BenchRootfs.AgentSpec(rootfs, "/bin/true") });
            await client.StartContainerAsync(new StartContainerRequest { ContainerId = id });
            int status = (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id })).Status;
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id, Timeout = 10 });
            double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (status != 0)
            {
                throw new InvalidOperationException($"container {id} exited with {status}");
            }
            if (i >= Warmup)
            {
                samples.Add(elapsed);
            }
        }
        return samples;
    }

    /// <summary>
    /// `crun run` of the same container, when crun is installed, and beside it the same bundle as whole processes
    /// through the agent: `kactl run --bundle` (its default protocol, and gRPC), each run started exactly as crun's
    /// and in turns with it, so load drift hits all of them alike.
    /// </summary>
    private static async Task AddCrunRowsAsync(List<(string, string, string)> rows, string scratch, string rootfs, List<double> agentRuns, string kactl, string address)
    {
        if (FindInPath("crun") is null)
        {
            rows.Add(("`crun run` of the same bundle", "not measured", "crun is not installed (Debian package crun)"));
            return;
        }
        string bundle = Directory.CreateDirectory(Path.Combine(scratch, "bundle")).FullName;
        await File.WriteAllTextAsync(Path.Combine(bundle, "config.json"), BenchRootfs.CrunConfig(rootfs, "/bin/true"));
        string state = Directory.CreateDirectory(Path.Combine(scratch, "crun-state")).FullName;
        await using var launcher = await CrunLauncher.StartAsync();

        bool withKactl = File.Exists(kactl);
        var crun = new List<double>(Runs);
        var launch = new List<double>(Runs);
        var kactlRuns = new List<double>(Runs);
        var kactlGrpcRuns = new List<double>(Runs);
        for (int i = 0; i < Warmup + Runs; i++)
        {
            double elapsed = await TimeAsync(launcher.Command("crun", "--root", state, "run", "--bundle", bundle, $"crun{i}"));
            double launchElapsed = await TimeAsync(launcher.Command(Path.Combine(rootfs, "bin", "true")));
            double kactlElapsed = withKactl ? await TimeAsync(launcher.Command(kactl, "--addr", address, "run", "--bundle", bundle, "--id", $"kactl{i}")) : 0;
            double kactlGrpcElapsed = withKactl ? await TimeAsync(launcher.Command(kactl, "--addr", address, "--protocol", "grpc", "run", "--bundle", bundle, "--id", $"kactlg{i}")) : 0;
            if (i >= Warmup)
            {
                crun.Add(elapsed);
                launch.Add(launchElapsed);
                kactlRuns.Add(kactlElapsed);
                kactlGrpcRuns.Add(kactlGrpcElapsed);
            }
        }
        rows.Add(("`crun run` of the same bundle (p50 / p99)", $"{Percentiles.Of(crun, 50):0.0} ms / {Percentiles.Of(crun, 99):0.0} ms",
            $"{await CrunVersionAsync()}, one process per run started with CliWrap and timed around it, {Runs} runs after {Warmup} warm-up{launcher.Note}"));
        rows.Add(("Process launch alone, same way (p50)", $"{Percentiles.Of(launch, 50):0.0} ms", $"busybox `true` started exactly as crun is{(launcher.Note.Length > 0 ? " (through nsenter)" : "")}: the part of the crun figure that is not crun"));
        rows.Add(("Ratio agent / crun (p50)", $"{Percentiles.Of(agentRuns, 50) / Percentiles.Of(crun, 50):0.00}×", "the agent's figure includes four gRPC round trips"));
        if (!withKactl)
        {
            rows.Add(("`kactl run --bundle` of the same bundle", "not measured", $"{kactl} is missing (./build.sh publishes it)"));
            return;
        }
        rows.Add(("`kactl run --bundle` of the same bundle, whole process (p50 / p99)", $"{Percentiles.Of(kactlRuns, 50):0.0} ms / {Percentiles.Of(kactlRuns, 99):0.0} ms",
            $"out/kactl --addr unix://… run --bundle DIR against this agent, its default protocol (detect: ttrpc here), one process per run started exactly as crun is, in turns with it, {Runs} runs after {Warmup} warm-up"));
        rows.Add(("The same with `--protocol grpc` (p50 / p99)", $"{Percentiles.Of(kactlGrpcRuns, 50):0.0} ms / {Percentiles.Of(kactlGrpcRuns, 99):0.0} ms", "gRPC over HTTP/2, what run --bundle spoke before it detected the protocol"));
        rows.Add(("Ratio `kactl run --bundle` / `crun run` (p50)", $"{Percentiles.Of(kactlRuns, 50) / Percentiles.Of(crun, 50):0.00}×", $"goal ≤ 2×; with --protocol grpc {Percentiles.Of(kactlGrpcRuns, 50) / Percentiles.Of(crun, 50):0.00}×; the process-launch floor is {Percentiles.Of(launch, 50) / Percentiles.Of(crun, 50):0.00}× of crun"));
    }

    /// <summary>Milliseconds from starting <paramref name="command"/> to its exit; a failure (non-zero exit) throws.</summary>
    private static async Task<double> TimeAsync(Command command)
    {
        long start = Stopwatch.GetTimestamp();
        await command.ExecuteAsync();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Milliseconds per exec, ExecProcess to exit status.</summary>
    private static async Task<List<double>> ExecLatencyAsync(AgentClient client, string rootfs)
    {
        const string Id = "execbench";
        await client.CreateContainerAsync(new CreateContainerRequest { ContainerId = Id, OCI = BenchRootfs.AgentSpec(rootfs, "sleep", "3600") });
        await client.StartContainerAsync(new StartContainerRequest { ContainerId = Id });
        var samples = new List<double>(Runs);
        try
        {
            for (int i = 0; i < Warmup + Runs; i++)
            {
                string execId = $"e{i}";
                long start = Stopwatch.GetTimestamp();
                await client.ExecProcessAsync(new ExecProcessRequest { ContainerId = Id, ExecId = execId, Process = new KataAgent.Protocols.Agent.Process { Args = { "/bin/true" }, Env = { "PATH=/bin" }, Cwd = "/" } });
                int status = (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = Id, ExecId = execId })).Status;
                double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (status != 0)
                {
                    throw new InvalidOperationException($"exec {execId} exited with {status}");
                }
                if (i >= Warmup)
                {
                    samples.Add(elapsed);
                }
            }
        }
        finally
        {
            await client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = Id, Timeout = 10 });
        }
        return samples;
    }

    private static async Task<string> CrunVersionAsync()
    {
        var result = await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(Cli.Wrap("crun").WithArguments("--version"));
        return result.StandardOutput.Split('\n')[0].Trim();
    }

    private static string? FindInPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program)).FirstOrDefault(File.Exists);

    /// <summary>
    /// Starts crun where it can run. crun refuses a cgroup v1/v2 hybrid host ("cgroups in hybrid
    /// mode not supported"); there it runs in a private mount namespace, held open by a
    /// `sleep`, where the same cgroup2 hierarchy the agent uses is mounted on /sys/fs/cgroup, and
    /// each run goes through nsenter.
    /// </summary>
    private sealed class CrunLauncher : IAsyncDisposable
    {
        private readonly CancellationTokenSource? _kill;
        private readonly CommandTask<CommandResult>? _holder;

        private CrunLauncher(CancellationTokenSource? kill, CommandTask<CommandResult>? holder)
        {
            _kill = kill;
            _holder = holder;
        }

        public string Note => _holder is null ? "" : "; this host is cgroup-hybrid, which crun refuses, so each run goes through `nsenter -m` into a mount namespace with the cgroup2 hierarchy on /sys/fs/cgroup";

        public static async Task<CrunLauncher> StartAsync()
        {
            bool unified = File.ReadLines("/proc/self/mounts").Any(line => line.Split(' ') is [_, "/sys/fs/cgroup", "cgroup2", ..]);
            if (unified)
            {
                return new CrunLauncher(null, null);
            }
            var kill = new CancellationTokenSource();
            var holder = Cli.Wrap("unshare").WithArguments(["--mount", "--propagation", "private", "sleep", "3600"])
                .WithValidation(CommandResultValidation.None).ExecuteAsync(kill.Token);
            var launcher = new CrunLauncher(kill, holder);
            string ownNamespace = new FileInfo("/proc/self/ns/mnt").LinkTarget ?? "";
            for (int attempt = 0; ; attempt++)
            {
                string? theirs = null;
                try
                {
                    theirs = new FileInfo($"/proc/{holder.ProcessId}/ns/mnt").LinkTarget;
                }
                catch (IOException)
                {
                }
                if (theirs is not null && theirs != ownNamespace)
                {
                    break;
                }
                if (attempt == 200)
                {
                    await launcher.DisposeAsync();
                    throw new InvalidOperationException("unshare --mount did not come up");
                }
                await Task.Delay(10);
            }
            await launcher.Command("mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup").ExecuteAsync();
            return launcher;
        }

        public Command Command(string program, params string[] arguments) =>
            _holder is null
                ? Cli.Wrap(program).WithArguments(arguments)
                : Cli.Wrap("nsenter").WithArguments(["-t", _holder.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", program, .. arguments]);

        public async ValueTask DisposeAsync()
        {
            if (_kill is null || _holder is null)
            {
                return;
            }
            _kill.Cancel();
            try
            {
                await _holder;
            }
            catch (OperationCanceledException)
            {
            }
            _kill.Dispose();
        }
    }
}
