using System.Diagnostics;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Testing.Containerd.Cri;

namespace KataAgent.Testing.Containerd;

/// <summary>
/// A containerd of the tests' own (Debian's 1.6.20): its own config, root, state and gRPC/ttrpc addresses in a
/// scratch directory, so it never meets the host's containerd; a CRI runtime handler for our shim
/// (<see cref="KataAgentHandler"/>) next to runc's; the busybox images imported into <see cref="Namespace"/> (for
/// ctr) and <c>k8s.io</c> (for CRI); a CNI bridge network for pods. <see cref="DisposeAsync"/> removes every pod and
/// task, stops containerd, ends shims it left (by pid, only those started for this address), unmounts what is left
/// under its directory and deletes it.
/// </summary>
public sealed partial class PrivateContainerd : IAsyncDisposable
{
    /// <summary>The CRI runtime handler (RuntimeClass) that selects our shim.</summary>
    public const string KataAgentHandler = "kataagent";

    /// <summary>The CRI runtime handler that selects containerd's runc shim.</summary>
    public const string RuncHandler = "runc";

    /// <summary>Our runtime's name for <c>ctr run --runtime</c>.</summary>
    public const string KataAgentRuntime = "io.containerd.kataagent.v2";

    /// <summary>runc's runtime name.</summary>
    public const string RuncRuntime = "io.containerd.runc.v2";

    /// <summary>The containerd namespace CRI keeps its pods in.</summary>
    public const string CriNamespace = "k8s.io";

    /// <summary>The shim's file name: containerd derives it from <see cref="KataAgentRuntime"/>.</summary>
    public const string ShimBinaryName = "containerd-shim-kataagent-v2";

    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory;
    private readonly PrivateContainerdOptions _options;
    private readonly StringBuilder _log = new();
    private Process? _process;
    private Task? _logPump;

    private PrivateContainerd(PrivateContainerdOptions options)
    {
        _options = options;
        _directory = new TempDirectory();
        Namespace = "ka-" + Guid.NewGuid().ToString("N")[..10];
        Address = _directory.File("c.sock");
        ConfigPath = _directory.File("config.toml");
        ShimConfigPath = _directory.File("shim.json");
        ShimStateRoot = _directory.CreateDirectory("shim");
        Cni = options.CniNetwork ? new CniBridgeNetwork(_directory.File("cni"), _directory.File("cni-data")) : null;
    }

    /// <summary>The scratch directory holding everything of this instance (config, root, state, sockets, the shim's state).</summary>
    public string Directory => _directory.Path;

    /// <summary>containerd's gRPC socket (also the CRI's); its ttrpc socket is this plus <c>.ttrpc</c>.</summary>
    public string Address { get; }

    /// <summary>The containerd namespace for ctr, unique to this instance (<c>/run/containerd/s</c> and <c>/run/containerd/fifo</c> are shared by every containerd on the host).</summary>
    public string Namespace { get; }

    /// <summary>The config.toml containerd runs with.</summary>
    public string ConfigPath { get; }

    /// <summary>The shim configuration file (runtime options' ConfigPath, and KATAAGENT_SHIM_CONFIG for ctr).</summary>
    public string ShimConfigPath { get; }

    /// <summary>The shim's <c>stateRoot</c>: its VMs' state directories live below.</summary>
    public string ShimStateRoot { get; }

    /// <summary>The CNI network of the CRI plugin, or null without one.</summary>
    public CniBridgeNetwork? Cni { get; }

    /// <summary>The running containerd's pid.</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException("containerd is not running");

    /// <summary>What containerd logged so far (its stderr, which also carries the shims' log FIFOs).</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The published shim, out/containerd-shim-kataagent-v2 (./build.sh publishes it).</summary>
    public static string ShimBinary => RepoPaths.Require(Path.Combine(RepoPaths.Root, "out", ShimBinaryName));

    /// <summary>Writes the configuration, starts containerd, waits for its gRPC and CRI, and imports the images.</summary>
    public static async Task<PrivateContainerd> StartAsync(PrivateContainerdOptions? options = null)
    {
        HostTools.Require("containerd", "containerd");
        HostTools.Require("ctr", "containerd");
        var containerd = new PrivateContainerd(options ?? new PrivateContainerdOptions());
        try
        {
            containerd.WriteConfiguration();
            await containerd.StartProcessAsync();
            var archives = await BusyboxOciImage.BuildAsync();
            foreach (string ns in new[] { containerd.Namespace, CriNamespace })
            {
                foreach (string archive in new[] { archives.Workload, archives.Pause })
                {
                    (await containerd.CtrInAsync(ns, ["images", "import", "--snapshotter", containerd._options.Snapshotter, archive]))
                        .EnsureSuccess($"ctr images import {archive}");
                }
            }
            return containerd;
        }
        catch
        {
            await containerd.DisposeAsync();
            throw;
        }
    }

    /// <summary>What this instance's runtimes have on the host now (<see cref="HostFootprint"/>): containerd itself left out, which a restart replaces.</summary>
    public HostFootprint CaptureFootprint() => HostFootprint.Capture(Directory, Cni?.BridgeName, _process?.Id ?? 0);

    /// <summary>A CRI client on this containerd's socket.</summary>
    public CriClient CreateCriClient() => new(Address);

    /// <summary>Runs <c>ctr -a ADDRESS -n NAMESPACE ARGS</c> to its end (or <paramref name="timeout"/>, default 5 minutes: a VM boots under TCG).</summary>
    public Task<CtrResult> CtrAsync(IEnumerable<string> arguments, string? standardInput = null, TimeSpan? timeout = null) =>
        CtrInAsync(Namespace, arguments, standardInput, timeout);

    /// <summary>Runs ctr in the containerd namespace <paramref name="ns"/>.</summary>
    public async Task<CtrResult> CtrInAsync(string ns, IEnumerable<string> arguments, string? standardInput = null, TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        var command = Cli.Wrap("ctr").WithArguments(["-a", Address, "-n", ns, .. arguments])
            .WithValidation(CommandResultValidation.None);
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(PipeSource.FromString(standardInput));
        }
        try
        {
            var result = await command.ExecuteBufferedAsync(cancellation.Token);
            return new CtrResult(result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"ctr {string.Join(' ', arguments)} did not end within {timeout ?? TimeSpan.FromMinutes(5)}; containerd's log ends:\n{LogTail()}");
        }
    }

    /// <summary>The command line of ctr against this containerd, for running it under a pty (<c>script</c>).</summary>
    public IReadOnlyList<string> CtrCommandLine(IEnumerable<string> arguments) => ["ctr", "-a", Address, "-n", Namespace, .. arguments];

    /// <summary>Stops containerd with SIGTERM (the shims and their tasks keep running, as on a real restart).</summary>
    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }
        try
        {
            if (!_process.HasExited)
            {
                Signal(_process.Id, 15);
                using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                try
                {
                    await _process.WaitForExitAsync(cancellation.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill();
                    await _process.WaitForExitAsync();
                }
            }
            if (_logPump is not null)
            {
                await _logPump;
            }
        }
        finally
        {
            _process.Dispose();
            _process = null;
        }
    }

    /// <summary>Stops containerd and starts it again on the same configuration, root and state.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartProcessAsync();
    }

    /// <summary>The last lines of containerd's log above debug level (its own and the shims'), for failure messages.</summary>
    public string LogTail(int lines = 60)
    {
        string[] all = Log.Split('\n').Where(line => !line.Contains("level=debug", StringComparison.Ordinal)).ToArray();
        return string.Join('\n', all[Math.Max(0, all.Length - lines)..]);
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo("containerd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = Directory,
        };
        foreach (string argument in new[] { "--config", ConfigPath })
        {
            info.ArgumentList.Add(argument);
        }
        if (_options.KataAgentRuntime)
        {
            // ctr run --runtime io.containerd.kataagent.v2 finds the binary on containerd's PATH; the shim reads its
            // configuration from the environment when ctr passes no runtime options.
            info.Environment["PATH"] = Path.Combine(Directory, "bin") + ":" + (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin");
            info.Environment["KATAAGENT_SHIM_CONFIG"] = ShimConfigPath;
        }
        _process = Process.Start(info) ?? throw new InvalidOperationException("containerd did not start");
        _process.StandardInput.Close();
        _logPump = Task.WhenAll(PumpAsync(_process.StandardOutput), PumpAsync(_process.StandardError));
        var deadline = DateTime.UtcNow + StartLimit;
        while (true)
        {
            if (_process.HasExited)
            {
                await _logPump;
                throw new InvalidOperationException($"containerd exited with {_process.ExitCode} while starting:\n{LogTail()}");
            }
            if (File.Exists(Address))
            {
                var version = await CtrInAsync(Namespace, ["version"], timeout: TimeSpan.FromSeconds(10));
                if (version.ExitCode == 0 && await CriAnswersAsync())
                {
                    return;
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"containerd did not answer within {StartLimit}:\n{LogTail()}");
            }
            await Task.Delay(200);
        }
    }

    private async Task<bool> CriAnswersAsync()
    {
        using var cri = CreateCriClient();
        try
        {
            var version = await cri.Runtime.VersionAsync(new VersionRequest { Version = "v1" }, deadline: DateTime.UtcNow.AddSeconds(5));
            return version.RuntimeApiVersion == "v1";
        }
        catch (Grpc.Core.RpcException)
        {
            return false;
        }
    }

    private async Task PumpAsync(StreamReader reader)
    {
        string logPath = Path.Combine(Directory, "containerd.log");
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_log)
            {
                _log.Append(line).Append('\n');
                File.AppendAllText(logPath, line + "\n");
            }
        }
    }

    private static void Signal(int pid, int signal) => HostTools.Run("kill", "-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
