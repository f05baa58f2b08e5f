using System.CommandLine;
using System.Globalization;
using KataAgent.Host;
using KataAgent.Host.Images;
using KataAgent.Host.Pods;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Images;
using KataAgent.Kactl.Sandboxes;

namespace KataAgent.Kactl.Pods;

/// <summary>
/// <c>kactl pod run -f pod.yaml</c>: loads the manifest, boots a VM sized from its requests (docs/PODS.md "Sizing"),
/// creates every container in one CreatePod and starts them once the start gate allows it. Attached (the default)
/// it prints the containers' output, each line led by its container's name as <c>kubectl logs --prefix</c>, waits
/// for every container to end, deletes the pod and exits with the status of the first container (in the manifest's
/// order) that failed, or 0. With <c>-d</c> it prints the pod's id and leaves it running.
/// </summary>
public sealed class PodRunCommand
{
    /// <summary>The command's name; it handles SIGINT/SIGTERM itself (see <see cref="InterruptSignals"/>).</summary>
    public const string Name = "run";

    private readonly GlobalOptions _global;

    private readonly Option<string> _file = new("--filename", "-f")
    {
        Description = "The Pod manifest, YAML or JSON (apiVersion v1, kind Pod; docs/PODS.md lists the fields)",
        HelpName = "FILE",
        Required = true,
    };

    private readonly Option<bool> _detach = new("--detach", "-d")
    {
        Description = "Leave the pod running: print its id and exit once its containers started (then: kactl pod ps, logs, exec, resize, rm)",
    };

    private readonly Option<string?> _id = new("--id")
    {
        Description = "The pod's sandbox id (default: its metadata.name)",
        HelpName = "ID",
    };

    private readonly Option<string?> _kernel = new("--kernel")
    {
        Description = $"The guest kernel (default: vmlinuz next to kactl, or ${VmDefaults.KernelVariable})",
        HelpName = "FILE",
    };

    private readonly Option<string?> _initrd = new("--initrd")
    {
        Description = $"The guest initrd with the agent as /init (default: initrd.img next to kactl, or ${VmDefaults.InitrdVariable})",
        HelpName = "FILE",
    };

    private readonly Option<string> _rootfsMode = new("--rootfs-mode")
    {
        Description = "How the containers get their rootfs: virtio-fs (the default) or blk",
        HelpName = "MODE",
        DefaultValueFactory = _ => "virtio-fs",
    };

    private readonly Option<string> _pull = new("--pull")
    {
        Description = "Pull each image into the host's store when the store lacks it (missing, the default, as Kubernetes' IfNotPresent), every time (always), or never",
        HelpName = "missing|always|never",
        DefaultValueFactory = _ => "missing",
    };

    private readonly Option<bool> _quiet = new("--quiet", "-q")
    {
        Description = "No progress lines on stderr (booting, started, the VM's size)",
    };

    private readonly Option<double> _stopTimeout = RunCommand.StopTimeoutOption();
    private readonly ImageOptions _images = new();

    public PodRunCommand(GlobalOptions global)
    {
        _global = global;
        _rootfsMode.AcceptOnlyFromAmong("virtio-fs", "blk");
        _pull.AcceptOnlyFromAmong("missing", "always", "never");
        _id.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } id && !RunDirectory.IsValidId(id))
            {
                result.AddError($"--id '{id}' is not a valid sandbox id (up to 64 letters, digits, '-', '_' and '.', starting with a letter or digit)");
            }
        });
        Command = new Command(Name, "Run a Pod manifest in a VM of its own, sized from its requests; attached: the containers' output led by [name], exit with the first failing container's status")
        {
            _file,
            _detach,
            _id,
            _kernel,
            _initrd,
            _rootfsMode,
            _pull,
            _quiet,
            _stopTimeout,
        };
        _images.AddTo(Command, registry: true);
        Command.SetAction(KactlCommands.Guard(RunAsync));
    }

    /// <summary>The System.CommandLine command.</summary>
    public Command Command { get; }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string file = parseResult.GetRequiredValue(_file);
        PodSpec spec;
        try
        {
            spec = await PodManifest.LoadAsync(file, cancellationToken).ConfigureAwait(false);
        }
        catch (PodManifestException e)
        {
            throw new KactlException(ExitCodes.Usage, e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KactlException(ExitCodes.Usage, $"cannot read {file}: {e.Message}", e);
        }
        bool quiet = parseResult.GetValue(_quiet);
        bool detach = parseResult.GetValue(_detach);
        string kernel = VmDefaults.Kernel(parseResult.GetValue(_kernel));
        string initrd = VmDefaults.Initrd(parseResult.GetValue(_initrd));
        foreach (var (path, what) in new[] { (kernel, "kernel"), (initrd, "initrd") })
        {
            if (!File.Exists(path))
            {
                throw new KactlException(ExitCodes.Usage, $"the {what} {path} does not exist (./build.sh makes it; or give --{what} FILE)");
            }
        }
        var grace = TimeSpan.FromSeconds(parseResult.GetValue(_stopTimeout));

        using var signals = InterruptSignals.Register();
        using var images = _images.Open(parseResult);
        var runDirectory = RunDirectory.FromEnvironment();
        string id = runDirectory.CreateSandboxDirectory(parseResult.GetValue(_id) ?? spec.Name);
        var createdAt = DateTimeOffset.UtcNow;
        Progress(quiet, $"creating pod {id} ({Describe(spec)})…");
        Pod pod;
        try
        {
            pod = await Pod.CreateAsync(spec, new PodOptions
            {
                Id = id,
                Vm = new QemuOptions
                {
                    KernelPath = kernel,
                    InitrdPath = initrd,
                    StateDirectory = runDirectory.SandboxDirectory(id),
                    DebugConsole = true,
                    Detached = detach,
                    VsockBackendCommand = VhostUserVsockCommand.SelfCommand(),
                    AgentProtocol = _global.ResolveProtocol(parseResult) ?? AgentProtocol.Grpc,
                },
                Images = images,
                PullPolicy = parseResult.GetValue(_pull) switch { "always" => PullPolicy.Always, "never" => PullPolicy.Never, _ => PullPolicy.Missing },
                RootfsMode = parseResult.GetValue(_rootfsMode) == "blk" ? RootfsMode.Blk : RootfsMode.VirtioFs,
            }, signals.First).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KataAgentException or OperationCanceledException or IOException or PodManifestException or Image.ImageException)
        {
            // The create undid itself; what is left is our directory, unless the pod network could not be restored.
            if (!File.Exists(Path.Combine(runDirectory.SandboxDirectory(id), Sandbox.NetworkJournalFileName)))
            {
                runDirectory.Remove(id);
            }
            switch (e)
            {
                case OperationCanceledException when signals.Interrupted:
                    return KactlCommands.Interrupted();
                case QemuBootException boot:
                    await Console.Error.WriteLineAsync($"kactl: the VM's last console lines:\n{boot.ConsoleTail}").ConfigureAwait(false);
                    throw new KactlException(ExitCodes.VmFailed, $"the VM did not boot: {boot.Message.Split('\n')[0]}", e);
                case PodManifestException manifest:
                    throw new KactlException(ExitCodes.Usage, $"{file}: {manifest.Message}", e);
                default:
                    throw;
            }
        }

        bool keep = false;
        try
        {
            var size = pod.Sandbox.Vm.Options;
            Progress(quiet, $"pod {id}: {size.Cpus} vCPU and {size.MemoryMiB} MiB at boot, up to {size.MaxCpus} vCPU and {size.MaxMemoryMiB} MiB; agent ready after {pod.Sandbox.BootToReady.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms");
            var first = spec.Containers[0];
            runDirectory.Save(new RunRecord
            {
                Id = id,
                ContainerId = first.Name,
                CreatedAt = createdAt,
                QemuPid = pod.Sandbox.Vm.ProcessId,
                Protocol = pod.Sandbox.Agent.Protocol,
                RootfsMode = parseResult.GetValue(_rootfsMode) == "blk" ? RootfsMode.Blk : RootfsMode.VirtioFs,
                Args = [.. first.Command ?? [], .. first.Args ?? []],
                Image = first.Image,
                Pod = spec.Name,
            });
            if (detach)
            {
                await StartAsync(pod, quiet).ConfigureAwait(false);
                keep = true;
                await Console.Out.WriteLineAsync(id).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            return await RunAttachedAsync(pod, quiet, signals).ConfigureAwait(false);
        }
        finally
        {
            if (keep)
            {
                // Lets go of the handles only: the detached VM runs on.
                await pod.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                bool journalLeft = false;
                try
                {
                    await pod.DeleteAsync(grace, CancellationToken.None).ConfigureAwait(false);
                }
                catch (KataAgentException e)
                {
                    journalLeft = e.Kind == KataAgentErrorKind.Network;
                    await Console.Error.WriteLineAsync($"kactl: warning: deleting pod '{id}': {e.Message.Split('\n')[0]}").ConfigureAwait(false);
                }
                if (!journalLeft)
                {
                    runDirectory.Remove(id);
                }
            }
        }
    }

    /// <summary>StartPod; a failed gate is reported with its outcome and becomes exit 1.</summary>
    private static async Task StartAsync(Pod pod, bool quiet)
    {
        try
        {
            var gate = await pod.StartAsync().ConfigureAwait(false);
            if (gate.State == Protocols.Extensions.GateStatus.Types.State.Passed)
            {
                Progress(quiet, $"start gate passed (exit {gate.ExitCode})");
            }
            Progress(quiet, "containers started");
        }
        catch (PodStartGateException e)
        {
            if (!e.Gate.Output.IsEmpty)
            {
                await Console.Error.WriteLineAsync($"kactl: the start gate's output:\n{e.Gate.Output.ToStringUtf8().TrimEnd()}").ConfigureAwait(false);
            }
            throw new KactlException(ExitCodes.RpcFailed, $"the start gate failed ({e.Gate.Reason}): no container was started", e);
        }
    }

    /// <summary>Every container's output, prefixed, until each ends; the first failing container's status (in the manifest's order), else 0.</summary>
    private static async Task<int> RunAttachedAsync(Pod pod, bool quiet, InterruptSignals signals)
    {
        var output = new PrefixedOutput();
        var copies = new List<Task<bool>>();
        foreach (var (name, container) in pod.Containers)
        {
            copies.Add(output.CopyAsync(name, container.InitProcess.Stdout, StandardStreams.Stdout, CancellationToken.None));
            copies.Add(output.CopyAsync(name, container.InitProcess.Stderr, StandardStreams.Stderr, CancellationToken.None));
        }
        await StartAsync(pod, quiet).ConfigureAwait(false);
        var waits = pod.Containers.Select(c => c.Container.InitProcess.WaitAsync()).ToList();
        var all = Task.WhenAll(waits);
        var interrupted = Task.Delay(Timeout.Infinite, signals.First);
        if (await Task.WhenAny(all, interrupted).ConfigureAwait(false) != all)
        {
            // The finally deletes the pod: SIGTERM to every container, SIGKILL after --stop-timeout.
            return KactlCommands.Interrupted();
        }
        int[] statuses = await all.ConfigureAwait(false);
        // What the containers wrote before they ended is read to its end before the pod goes.
        await Task.WhenAll(copies).ConfigureAwait(false);
        for (int i = 0; i < statuses.Length; i++)
        {
            Progress(quiet, $"container {pod.Containers[i].Name} exited with {statuses[i]}");
        }
        return statuses.FirstOrDefault(status => status != 0);
    }

    private static string Describe(PodSpec spec) =>
        string.Join(", ", spec.Containers.Select(c => $"{c.Name}: {c.Image ?? c.Rootfs}"));

    private static void Progress(bool quiet, string message)
    {
        if (!quiet)
        {
            StandardStreams.WriteAll(StandardStreams.Stderr, System.Text.Encoding.UTF8.GetBytes($"kactl: {message}\n"));
        }
    }
}
