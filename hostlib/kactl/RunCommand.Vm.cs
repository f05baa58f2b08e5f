using System.CommandLine;
using System.Globalization;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Image.Store;
using KataAgent.Kactl.Images;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Kactl.Sandboxes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Kactl;

/// <summary><c>kactl run [--cpus N] [--memory SIZE] [--rootfs DIR | IMAGE] [--rootfs-mode virtio-fs|blk] [--tty] [-d] [--kernel K] [--initrd I] -- CMD…</c>: a VM of its own.</summary>
public sealed partial class RunCommand
{
    private async Task<int> RunVmAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var request = ReadVmRequest(parseResult);
        using var signals = InterruptSignals.Register();
        // A guest pull keeps the image out of the host: no store is opened, nothing is pulled here.
        using var images = request.Image is null || request.GuestPull ? null : _images.Open(parseResult);
        StoredImage? image = null;
        if (images is not null)
        {
            // Before the VM boots: a typo in the name or a registry that is down costs no boot.
            try
            {
                image = await EnsureImageAsync(images, request, signals.First).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (signals.Interrupted)
            {
                return KactlCommands.Interrupted();
            }
        }
        var runDirectory = RunDirectory.FromEnvironment();
        string id = runDirectory.CreateSandboxDirectory(request.Id);
        var createdAt = DateTimeOffset.UtcNow;
        Progress(request, $"booting VM {id} ({request.Cpus} vCPU, {request.MemoryMiB} MiB)…");
        Sandbox sandbox;
        try
        {
            sandbox = await Sandbox.StartAsync(_network.ApplyTo(parseResult, new SandboxOptions
            {
                Id = id,
                Vm = new QemuOptions
                {
                    KernelPath = request.KernelPath,
                    InitrdPath = request.InitrdPath,
                    StateDirectory = runDirectory.SandboxDirectory(id),
                    Cpus = request.Cpus,
                    MemoryMiB = request.MemoryMiB,
                    DebugConsole = true,
                    Detached = request.Detach,
                    AgentChannel = request.AgentChannel,
                    // A detached VM's vsock backend outlives this kactl: it is this binary again, in its hidden verb.
                    VsockBackendCommand = VhostUserVsockCommand.SelfCommand(),
                    AgentProtocol = _global.ResolveProtocol(parseResult) ?? AgentProtocol.Grpc,
                },
                RootfsMode = request.RootfsMode,
            }), signals.First).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KataAgentException or OperationCanceledException or IOException or ArgumentException)
        {
            // The start cleans up after itself (qemu killed, state deleted); what is left is our directory, unless
            // the pod network could not be restored: then its journal is there for 'kactl rm'.
            if (!File.Exists(Path.Combine(runDirectory.SandboxDirectory(id), Sandbox.NetworkJournalFileName)))
            {
                runDirectory.Remove(id);
            }
            switch (e)
            {
                case OperationCanceledException when signals.Interrupted:
                    return KactlCommands.Interrupted();
                case QemuBootException boot:
                    // The console's last lines say why (a panic, a missing module): worth more than one line.
                    await Console.Error.WriteLineAsync($"kactl: the VM's last console lines:\n{boot.ConsoleTail}").ConfigureAwait(false);
                    throw new KactlException(ExitCodes.VmFailed, $"the VM did not boot: {boot.Message.Split('\n')[0]}", e);
                case AgentStatusException status:
                    throw new KactlException(ExitCodes.For(status), status.Message, e);
                case OperationCanceledException:
                    throw;
                default:
                    throw new KactlException(ExitCodes.VmFailed, $"the VM did not start: {e.Message}", e);
            }
        }
        bool keep = false;
        try
        {
            Progress(request, $"agent ready after {sandbox.BootToReady.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms ({(sandbox.Vm.UsesKvm ? "KVM" : "TCG")})");
            runDirectory.Save(new RunRecord { Id = id, ContainerId = id, CreatedAt = createdAt, QemuPid = sandbox.Vm.ProcessId, Protocol = sandbox.Agent.Protocol, RootfsMode = request.RootfsMode, Args = request.Args, Image = image?.Name ?? request.Image });
            if (signals.Interrupted)
            {
                return KactlCommands.Interrupted();
            }
            void EditSpec(Spec spec)
            {
                if (request.Terminal && LocalTerminal.Size() is { } size)
                {
                    spec.Process.ConsoleSize = new Box { Height = size.Rows, Width = size.Columns };
                }
            }
            // A detached container's output stays with the agent (bounded) until someone reads it: nobody attaches now.
            var options = new ContainerOptions { UseStreaming = request.UseStreaming, AttachStdio = !request.Detach };
            string rootfsName = image is not null ? $"of image {image.Name}" : request.GuestPull ? $"of image {request.Image} (pulled in the VM)" : request.RootfsDirectory!;
            Container container;
            try
            {
                if (request.GuestPull)
                {
                    Progress(request, $"pulling {request.Image} inside the VM…");
                    IReadOnlyList<string> args = [];
                    var pullOptions = await GuestPullOptionsOfAsync(parseResult, request, spec =>
                    {
                        EditSpec(spec);
                        args = [.. spec.Process.Args];
                    }, signals.First).ConfigureAwait(false);
                    container = await sandbox.CreateContainerFromGuestPullAsync(id, request.Image!, pullOptions, options, signals.First).ConfigureAwait(false);
                    runDirectory.Save(new RunRecord { Id = id, ContainerId = id, CreatedAt = createdAt, QemuPid = sandbox.Vm.ProcessId, Protocol = sandbox.Agent.Protocol, RootfsMode = request.RootfsMode, Args = args, Image = request.Image });
                }
                else if (image is not null)
                {
                    IReadOnlyList<string> args = [];
                    container = await CreateImageContainerAsync(sandbox, id, images!, image, request, options, spec =>
                    {
                        EditSpec(spec);
                        args = [.. spec.Process.Args];
                    }, signals.First).ConfigureAwait(false);
                    // ps shows what runs: the image's process, known only now.
                    runDirectory.Save(new RunRecord { Id = id, ContainerId = id, CreatedAt = createdAt, QemuPid = sandbox.Vm.ProcessId, Protocol = sandbox.Agent.Protocol, RootfsMode = request.RootfsMode, Args = args, Image = image.Name });
                }
                else
                {
                    var spec = ContainerSpecs.Default(request.Args, request.Terminal);
                    ApplyRootfsOverrides(spec, request.Overrides);
                    EditSpec(spec);
                    // A shared rootfs would be written by the container: it gets a copy-on-write view, so --rootfs never is.
                    string rootfs = request.RootfsMode == RootfsMode.VirtioFs
                        ? RootfsOverlay.Mount(request.RootfsDirectory!, runDirectory.SandboxDirectory(id))
                        : request.RootfsDirectory!;
                    container = await sandbox.CreateContainerAsync(id, rootfs, spec, options, signals.First).ConfigureAwait(false);
                }
            }
            catch (KataAgentException e) when (e.Kind is not (KataAgentErrorKind.AgentStatus or KataAgentErrorKind.Connect))
            {
                throw new KactlException(ExitCodes.For(e), $"cannot give the container its rootfs {rootfsName}: {e.Message}", e);
            }
            catch (IOException e)
            {
                throw new KactlException(ExitCodes.VmFailed, $"cannot give the container its rootfs {rootfsName}: {e.Message}", e);
            }
            catch (OperationCanceledException) when (signals.Interrupted)
            {
                return KactlCommands.Interrupted();
            }
            if (request.Detach)
            {
                await container.StartAsync().ConfigureAwait(false);
                Progress(request, "container started");
                keep = true;
                // Disposing lets go of the handle only: the container runs on in the detached VM.
                await container.DisposeAsync().ConfigureAwait(false);
                await Console.Out.WriteLineAsync(id).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            return await RunAttachedAsync(request, container, signals).ConfigureAwait(false);
        }
        finally
        {
            if (keep)
            {
                await sandbox.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                bool journalLeft = false;
                try
                {
                    await sandbox.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (KataAgentException e)
                {
                    // The container's status is the answer; a VM that went down badly is worth a line, not the exit code.
                    journalLeft = e.Kind == KataAgentErrorKind.Network;
                    string left = journalLeft ? $"; its state stays in {runDirectory.SandboxDirectory(id)} for 'kactl rm {id}'" : "";
                    await Console.Error.WriteLineAsync($"kactl: warning: destroying sandbox '{id}': {e.Message.Split('\n')[0]}{left}").ConfigureAwait(false);
                }
                if (!journalLeft)
                {
                    runDirectory.Remove(id);
                }
            }
        }
    }

    /// <summary>The container's init process with kactl's stdio, to its end; returns its status.</summary>
    private static async Task<int> RunAttachedAsync(VmRunRequest request, Container container, InterruptSignals signals)
    {
        var session = new ProcessSession
        {
            Process = container.InitProcess,
            Terminal = request.Terminal,
            Signals = signals,
            StopTimeout = request.StopTimeout,
            Start = async () =>
            {
                await container.StartAsync().ConfigureAwait(false);
                // The terminal may be raw by now (ProcessSession makes it so before the start): no \n → new line there.
                Progress(request, "container started", raw: request.Terminal && LocalTerminal.IsTerminal(StandardStreams.Stdin));
            },
            // The init process is PID 1 of its namespace: only SIGKILL is sure to end it. The sandbox's destroy follows.
            Kill = () => container.InitProcess.SignalAsync(9),
        };
        return await KactlCommands.RunSessionAsync(session).ConfigureAwait(false);
    }

    /// <summary>A progress line on stderr (unless --quiet): <c>kactl: booting VM…</c>.</summary>
    private static void Progress(VmRunRequest request, string message, bool raw = false)
    {
        if (request.Progress)
        {
            StandardStreams.WriteAll(StandardStreams.Stderr, System.Text.Encoding.UTF8.GetBytes($"kactl: {message}{(raw ? "\r\n" : "\n")}"));
        }
    }

    /// <summary>The request from the command line, with every file checked before anything is booted.</summary>
    /// <exception cref="KactlException">A kernel, initrd or rootfs that is not there (exit 2).</exception>
    private VmRunRequest ReadVmRequest(ParseResult parseResult)
    {
        var words = parseResult.GetRequiredValue(_command);
        var (image, overrides, policy) = ReadImageSettings(parseResult, words);
        bool quiet = parseResult.GetValue(_quiet);
        var request = new VmRunRequest
        {
            Args = image is null ? words : overrides.Args ?? [],
            Image = image,
            Overrides = overrides,
            PullPolicy = policy,
            Platform = image is null ? null : _images.ReadPlatform(parseResult),
            Display = PullDisplays.ForStderr(quiet),
            KernelPath = VmDefaults.Kernel(parseResult.GetValue(_kernel)),
            InitrdPath = parseResult.GetValue(_pull) == "guest" ? VmDefaults.GuestPullInitrd(parseResult.GetValue(_initrd)) : VmDefaults.Initrd(parseResult.GetValue(_initrd)),
            GuestPull = parseResult.GetValue(_pull) == "guest",
            RootfsDirectory = image is null ? VmDefaults.Rootfs(parseResult.GetValue(_rootfs)) : null,
            RootfsMode = parseResult.GetValue(_rootfsMode) == "blk" ? RootfsMode.Blk : RootfsMode.VirtioFs,
            Cpus = parseResult.GetValue(_cpus),
            MemoryMiB = parseResult.GetResult(_memory) is null ? DefaultMemoryMiB : parseResult.GetValue(_memory),
            // --tty alone parses as "present, no value".
            Terminal = parseResult.GetValue(_tty) ?? parseResult.GetResult(_tty) is not null,
            Detach = parseResult.GetValue(_detach),
            Id = parseResult.GetValue(_id),
            Progress = !quiet,
            StopTimeout = TimeSpan.FromSeconds(parseResult.GetValue(_stopTimeout)),
            UseStreaming = !parseResult.GetValue(_noStreaming),
            AgentChannel = parseResult.GetValue(_agentChannel),
        };
        RequireFile(request.KernelPath, "kernel", "--kernel", VmDefaults.KernelVariable, "out/vmlinuz");
        RequireFile(request.InitrdPath, "initrd", "--initrd", VmDefaults.InitrdVariable, "out/initrd.img");
        if (request.RootfsDirectory is not null && !Directory.Exists(request.RootfsDirectory))
        {
            throw new KactlException(ExitCodes.Usage, $"the rootfs directory {request.RootfsDirectory} does not exist (./build.sh makes out/rootfs; or give --rootfs DIR or ${VmDefaults.RootfsVariable})");
        }
        if (request.Detach && request.Terminal)
        {
            throw new KactlException(ExitCodes.Usage, "--tty and --detach do not go together: a detached container has no one at its terminal (use 'kactl exec ID --tty -- sh' or 'kactl console ID' later)");
        }
        return request;
    }

    private static void RequireFile(string path, string what, string option, string variable, string built)
    {
        if (!File.Exists(path))
        {
            throw new KactlException(ExitCodes.Usage, $"the {what} {path} does not exist (./build.sh makes {built}; or give {option} FILE or ${variable})");
        }
    }
}
