using System.Diagnostics;
using System.Text.Json;
using CliWrap;
using KataAgent.Host.SharedFs;
using KataAgent.Host.Transport;
using KataAgent.Linux.Addressing;

namespace KataAgent.Host.Vm;

/// <summary>
/// One qemu VM running the agent as PID 1: KVM when /dev/kvm exists, TCG otherwise; the agent on a
/// virtio-serial port whose host end is a unix socket in the state directory; the agent's log and
/// (optionally) its debug console on two more ports; the serial console in a log file; virtio-rng for
/// the guest's CRNG; QMP on a socket for hot-plug and shutdown; virtio-blk disks on pcie-root-ports.
/// By default qemu runs under <c>setpriv --pdeathsig KILL</c>, so it dies with the process that started
/// it even if that process crashes, and dispose stops it and removes the state directory. A
/// <see cref="QemuOptions.Detached"/> VM is daemonized instead and outlives its caller; it is found again
/// with <see cref="AttachAsync"/> from what vm.json in the state directory records.
/// </summary>
public sealed partial class QemuVm : IAsyncDisposable, IVirtualMachine
{
    private QemuOptions _options;
    private readonly CancellationTokenSource _kill = new();
    private readonly SemaphoreSlim _hotplugLock = new(1, 1);
    private CommandTask<CommandResult>? _qemu;
    private Task<QemuExit>? _exited;
    private QemuProcess? _process;
    private bool _closed;

    internal QemuVm(QemuOptions options)
    {
        _options = options;
    }

    /// <summary>The state directory: sockets, logs, pid file, vm.json.</summary>
    public string StateDirectory => _options.StateDirectory;

    /// <summary>The options the VM was started with (paths absolute).</summary>
    public QemuOptions Options => _options;

    /// <summary>The unix socket of the agent's virtio-serial port (the serial channel only).</summary>
    public string AgentSocketPath => Path.Combine(_options.StateDirectory, "agent.sock");

    /// <summary>The guest's serial console, as a file.</summary>
    public string ConsoleLogPath => Path.Combine(_options.StateDirectory, "console.log");

    /// <summary>qemu's QMP socket.</summary>
    public string QmpSocketPath => Path.Combine(_options.StateDirectory, "qmp.sock");

    /// <summary>The unix socket of the agent.debug_console.0 port (only with <see cref="QemuOptions.DebugConsole"/> on the serial channel; see <see cref="DebugConsoleAddress"/>).</summary>
    public string DebugConsoleSocketPath => Path.Combine(_options.StateDirectory, "console.sock");

    /// <summary>
    /// The file qemu writes the agent.log.0 serial port into: a copy of the agent's log lines, on either channel. It
    /// has them from boot on, before any vsock log reader could connect, and qemu writes it with no process of ours.
    /// </summary>
    public string AgentLogPath => Path.Combine(_options.StateDirectory, "agent.log");

    /// <summary>Whether the VM runs under KVM.</summary>
    public bool UsesKvm { get; private set; }

    /// <summary>qemu's pid.</summary>
    public int ProcessId { get; private set; }

    /// <summary>Whether qemu outlives this object's owner (see <see cref="QemuOptions.Detached"/>).</summary>
    public bool Detached => _options.Detached;

    /// <summary>The connected agent, once <see cref="StartAsync"/> or <see cref="AttachAsync"/> returned.</summary>
    public AgentClient Agent { get; private set; } = null!;

    /// <summary>The VM's QMP connection.</summary>
    public QmpClient Qmp { get; private set; } = null!;

    /// <summary>The PCI paths (Kata's format, e.g. "10/00") of <see cref="QemuOptions.Disks"/>, in order.</summary>
    public IReadOnlyList<string> DiskPciPaths { get; private set; } = [];

    /// <summary>The PCI paths of <see cref="QemuOptions.NetworkDevices"/>, in order: what UpdateInterface's devicePath names.</summary>
    public IReadOnlyList<string> NetworkPciPaths => [.. Enumerable.Range(_options.Disks.Count + _options.HotplugSlots, _options.NetworkDevices.Count).Select(PciPath)];

    /// <summary>Time from starting qemu to the agent's first Check answer (zero for an attached VM).</summary>
    public TimeSpan BootToReady { get; private set; }

    /// <summary>Whether qemu is still running.</summary>
    public bool IsRunning => _process?.IsRunning ?? false;

    /// <summary>qemu's exit, once it has exited; only for a VM this process started and did not detach.</summary>
    /// <exception cref="InvalidOperationException">qemu is not this process's child.</exception>
    public Task<QemuExit> Exited => _exited ?? throw new InvalidOperationException(
        "qemu is not a child of this process (a detached or attached VM): use WaitForExitAsync");

    private string PidFilePath => Path.Combine(_options.StateDirectory, "qemu.pid");

    private string StateFilePath => Path.Combine(_options.StateDirectory, "vm.json");

    /// <summary>Boots the VM and connects to its agent; throws <see cref="QemuBootException"/> with the console tail on failure.</summary>
    public static async Task<QemuVm> StartAsync(QemuOptions options, CancellationToken cancellationToken = default)
    {
        options = Validate(options);
        Directory.CreateDirectory(options.StateDirectory);
        var vm = new QemuVm(options) { DiskPciPaths = [.. Enumerable.Range(0, options.Disks.Count).Select(PciPath)] };
        // Cancelled when the start fails, so that a step qemu's exit overtook stops retrying in the background.
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clock = Stopwatch.StartNew();
        try
        {
            // Before qemu: it connects to their sockets as it starts.
            await vm.StartVirtiofsdsAsync(abort.Token).ConfigureAwait(false);
            await vm.StartVsockAsync(abort.Token).ConfigureAwait(false);
        }
        catch
        {
            await vm.AbandonAsync().ConfigureAwait(false);
            throw;
        }
        try
        {
            await vm.LaunchAsync(abort.Token).ConfigureAwait(false);
            vm.Qmp = await vm.UntilExitAsync(QmpClient.ConnectAsync(vm.QmpSocketPath, TimeSpan.FromSeconds(30), abort.Token), "its QMP socket accepted").ConfigureAwait(false);
            await vm.SaveStateAsync(abort.Token).ConfigureAwait(false);
            var connect = AgentClient.ConnectAsync(vm.AgentAddress, AgentOptions(options), abort.Token);
            vm.Agent = await vm.UntilExitAsync(connect, "the agent answered").ConfigureAwait(false);
            if (options.AgentProtocol == AgentProtocol.Detect)
            {
                // Saved as found, so a later attach speaks it at once instead of probing again.
                vm._options = options with { AgentProtocol = vm.Agent.Protocol };
                await vm.SaveStateAsync(abort.Token).ConfigureAwait(false);
            }
            vm.BootToReady = clock.Elapsed;
            return vm;
        }
        catch (Exception e) when (e is not QemuBootException and not OperationCanceledException)
        {
            abort.Cancel();
            string tail = vm.ConsoleTail();
            await vm.AbandonAsync().ConfigureAwait(false);
            throw new QemuBootException($"the VM's agent did not come up: {e.Message}", tail, e);
        }
        catch
        {
            abort.Cancel();
            await vm.AbandonAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static AgentClientOptions AgentOptions(QemuOptions options) => new()
    {
        ConnectTimeout = options.AgentTimeout,
        RetryInterval = TimeSpan.FromMilliseconds(100),
        Protocol = options.AgentProtocol,
    };

    /// <summary>
    /// Reconnects to a running VM (typically a <see cref="QemuOptions.Detached"/> one started by another
    /// process) from its state directory: QMP and the agent. Over vsock that works while others are connected; the
    /// serial channel serves one connection at a time, so whoever else is connected to it must have let go.
    /// </summary>
    /// <exception cref="VmException">No VM state there, or its qemu is no longer running.</exception>
    public static async Task<QemuVm> AttachAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        string stateFile = Path.Combine(Path.GetFullPath(stateDirectory), "vm.json");
        QemuVmState state;
        try
        {
            await using var stream = File.OpenRead(stateFile);
            state = await JsonSerializer.DeserializeAsync(stream, QemuVmStateJsonContext.Default.QemuVmState, cancellationToken).ConfigureAwait(false)
                ?? throw new VmException($"{stateFile} is empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VmException($"no VM in {stateDirectory}: {stateFile} does not exist", e);
        }
        catch (JsonException e)
        {
            throw new VmException($"{stateFile} is not a VM state file: {e.Message}", e);
        }
        var vm = new QemuVm(state.Options)
        {
            UsesKvm = state.UsesKvm,
            DiskPciPaths = state.DiskPciPaths,
            ProcessId = state.ProcessId,
            VsockDevice = state.VsockDevice,
            GuestCid = state.GuestCid,
            VsockBackendProcessId = state.VsockBackendProcessId,
        };
        vm._process = QemuProcess.TryOpen(state.ProcessId);
        if (vm._process is null || !vm.IsQemuOfThisVm())
        {
            vm._process?.Dispose();
            throw new VmException($"the VM in {stateDirectory} is not running (qemu pid {state.ProcessId} has exited)");
        }
        vm.AttachVirtiofsds(state.SharedDirectories);
        try
        {
            vm.Qmp = await QmpClient.ConnectAsync(vm.QmpSocketPath, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            vm.Agent = await AgentClient.ConnectAsync(vm.AgentAddress, AgentOptions(state.Options), cancellationToken).ConfigureAwait(false);
            return vm;
        }
        catch
        {
            await vm.DisconnectAsync().ConfigureAwait(false);
            vm.CloseVirtiofsds();
            vm._process.Dispose();
            throw;
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of the console log, without terminal escapes.</summary>
    public string ConsoleTail(int lines = 30)
    {
        if (!File.Exists(ConsoleLogPath))
        {
            return "(no console output)";
        }
        string text = System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(ConsoleLogPath), @"\x1b\[[0-9;?]*[A-Za-z]|\x1bc", "");
        return string.Join('\n', text.Split('\n').TakeLast(lines));
    }

    /// <summary>Queues a NIC or a share may have: qemu's limit for a virtio device's queue pairs is far above any VM here.</summary>
    internal const int MaxNetworkQueues = 64;

    internal static QemuOptions Validate(QemuOptions options) => Validate(options, File.Exists(VhostVsockDevicePath));

    /// <param name="options">What to check.</param>
    /// <param name="kernelVsock">Whether the host has the kernel's vhost-vsock (then no backend process is needed).</param>
    internal static QemuOptions Validate(QemuOptions options, bool kernelVsock)
    {
        if (options.Detached && options.AgentChannel == QemuAgentChannel.Vsock && !kernelVsock
            && options.VsockBackendCommand is not { Count: > 0 })
        {
            throw new ArgumentException(
                $"a detached VM on the vsock channel needs {nameof(QemuOptions)}.{nameof(QemuOptions.VsockBackendCommand)} (e.g. [\"/path/to/kactl\", \"vhost-user-vsock\"]): without {VhostVsockDevicePath} its vhost-user-vsock backend must run as a process of its own that outlives the caller; or choose {nameof(QemuOptions.AgentChannel)} = {nameof(QemuAgentChannel.Serial)}",
                nameof(options));
        }
        foreach (var (path, what) in new[] { (options.KernelPath, "kernel"), (options.InitrdPath, "initrd") })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"the {what} {path} does not exist (./build.sh makes out/vmlinuz and out/initrd.img)", path);
            }
        }
        foreach (var disk in options.Disks)
        {
            if (!File.Exists(disk.ImagePath))
            {
                throw new FileNotFoundException($"the disk image {disk.ImagePath} does not exist", disk.ImagePath);
            }
        }
        if (options.NetworkNamespacePath is { } netns && !File.Exists(netns))
        {
            throw new FileNotFoundException($"the network namespace {netns} does not exist", netns);
        }
        if (options.HotplugSlots < 0 || options.Disks.Count + options.HotplugSlots + options.NetworkDevices.Count + options.SharedDirectories.Count > MaxRootPorts)
        {
            throw new ArgumentException($"Disks ({options.Disks.Count}) plus HotplugSlots ({options.HotplugSlots}) plus NetworkDevices ({options.NetworkDevices.Count}) plus SharedDirectories ({options.SharedDirectories.Count}) must be between 0 and {MaxRootPorts}: each takes a pcie-root-port in slots 0x{FirstRootPortSlot:x2}..0x{FirstRootPortSlot + MaxRootPorts - 1:x2} of the root bus", nameof(options));
        }
        for (int i = 0; i < options.NetworkDevices.Count; i++)
        {
            var nic = options.NetworkDevices[i];
            if (nic.Queues < 1 || nic.Queues > MaxNetworkQueues)
            {
                throw new ArgumentException($"NetworkDevices[{i}].Queues: {nic.Queues} is not between 1 and {MaxNetworkQueues}", nameof(options));
            }
            if (nic.Queues > 1 && (nic.OpenFile is not null || !nic.Netdev.StartsWith("tap,", StringComparison.Ordinal)))
            {
                throw new ArgumentException($"NetworkDevices[{i}].Queues: only a tap netdev opened by name can have several queues, not '{nic.Netdev}'", nameof(options));
            }
        }
        var shares = options.SharedDirectories.Select(ValidateShare).ToList();
        if (shares.GroupBy(s => s.Tag, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            throw new ArgumentException($"SharedDirectories: the tag '{duplicate.Key}' is used twice; each share needs its own", nameof(options));
        }
        if (shares.Count > 0)
        {
            RequireVirtiofsd(options.VirtiofsdPath);
        }
        // qemu -daemonize changes to /, and vm.json must mean the same files from any working directory.
        return options with
        {
            KernelPath = Path.GetFullPath(options.KernelPath),
            InitrdPath = Path.GetFullPath(options.InitrdPath),
            StateDirectory = Path.GetFullPath(options.StateDirectory),
            Disks = [.. options.Disks.Select(d => d with { ImagePath = Path.GetFullPath(d.ImagePath) })],
            NetworkNamespacePath = options.NetworkNamespacePath is null ? null : Path.GetFullPath(options.NetworkNamespacePath),
            SharedDirectories = shares,
        };
    }

    /// <summary>Checks a share's tag and directory; returns it with the directory's path made absolute.</summary>
    internal static QemuSharedDirectory ValidateShare(QemuSharedDirectory share)
    {
        ArgumentNullException.ThrowIfNull(share);
        QemuSharedDirectory.ValidateTag(share.Tag, nameof(share.Tag));
        if (string.IsNullOrEmpty(share.HostPath) || !Directory.Exists(share.HostPath))
        {
            throw new DirectoryNotFoundException($"the directory {share.HostPath} of shared directory '{share.Tag}' does not exist");
        }
        if (share.RequestQueues < 1 || share.RequestQueues > MaxNetworkQueues)
        {
            throw new ArgumentException($"shared directory '{share.Tag}': RequestQueues {share.RequestQueues} is not between 1 and {MaxNetworkQueues}", nameof(share.RequestQueues));
        }
        if (!Enum.IsDefined(share.Cache))
        {
            throw new ArgumentException($"shared directory '{share.Tag}': {share.Cache} is not a virtiofsd cache mode", nameof(share.Cache));
        }
        return share with { HostPath = Path.GetFullPath(share.HostPath) };
    }

    /// <summary>virtiofsd must be there before anything starts.</summary>
    internal static void RequireVirtiofsd(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"virtiofsd {path} does not exist: shared directories need it (Debian package {Virtiofsd.Package}; QemuOptions.VirtiofsdPath names another)", path);
        }
    }

    private async Task SaveStateAsync(CancellationToken cancellationToken)
    {
        var state = new QemuVmState
        {
            Options = _options,
            ProcessId = ProcessId,
            UsesKvm = UsesKvm,
            DiskPciPaths = DiskPciPaths,
            SharedDirectories = SharedDirectories,
            VsockDevice = VsockDevice,
            GuestCid = GuestCid,
            VsockBackendProcessId = VsockBackendProcessId,
        };
        string temporary = StateFilePath + ".tmp";
        await using (var stream = File.Create(temporary))
        {
            await JsonSerializer.SerializeAsync(stream, state, QemuVmStateJsonContext.Default.QemuVmState, cancellationToken).ConfigureAwait(false);
        }
        // Atomic: an attach racing with the start sees the whole file or none.
        File.Move(temporary, StateFilePath, overwrite: true);
    }

    /// <summary>
    /// Deletes the state directory of a VM whose qemu is no longer running and returns true; returns false and
    /// leaves it while that qemu runs. This is what is left when the process that started a non-detached VM
    /// dies without disposing it: qemu follows it (parent-death signal), but nobody removes the sockets, logs,
    /// pid file and vm.json. Likewise after a detached VM's guest powered itself off. Not for a directory whose
    /// VM is being started at this moment: before vm.json is written it looks stale. Whatever is still mounted in the
    /// directory (a sandbox's share) is detached first, and the delete never crosses a mount or follows a symlink
    /// (<see cref="SharedFs.StateDirectory.Delete"/>).
    /// </summary>
    /// <exception cref="ShareException">A mount in the directory would not go; the directory stays.</exception>
    public static bool DeleteStaleState(string stateDirectory)
    {
        string directory = Path.GetFullPath(stateDirectory);
        if (!Directory.Exists(directory))
        {
            return false;
        }
        if (IsRunningIn(directory))
        {
            return false;
        }
        // Their lock files live outside the state directory.
        Virtiofsd.DeleteSockets(directory);
        SharedFs.StateDirectory.Delete(directory);
        return true;
    }

    /// <summary>vm.json's pid (written once QMP answers), else qemu.pid's (there from qemu's start).</summary>
    private static int? ReadRecordedPid(string directory)
    {
        try
        {
            string json = File.ReadAllText(Path.Combine(directory, "vm.json"));
            return JsonSerializer.Deserialize(json, QemuVmStateJsonContext.Default.QemuVmState)?.ProcessId;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
        }
        return QemuProcess.ReadPidFile(Path.Combine(directory, "qemu.pid"));
    }

    /// <summary>
    /// Whether the qemu of the VM whose state is in <paramref name="stateDirectory"/> runs: the pid vm.json (or
    /// qemu's pid file) records is alive and its command line names that directory's QMP socket, so a recycled
    /// pid does not count. For a VM another process started (a detached one, or one whose owner died).
    /// </summary>
    public static bool IsRunningIn(string stateDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        string directory = Path.GetFullPath(stateDirectory);
        return ReadRecordedPid(directory) is { } pid && IsQemuWithQmpSocket(pid, Path.Combine(directory, "qmp.sock"));
    }

    /// <summary>
    /// Ends the qemu of the VM whose state is in <paramref name="stateDirectory"/>, if it runs: SIGTERM (qemu exits
    /// at once, closing its files), then SIGKILL if it is still there after a grace; then a detached VM's
    /// vhost-user-vsock backend process (it ends by itself once qemu has gone, or is killed after a grace). The process is opened as a
    /// pidfd first and only then checked to be that VM's qemu (see <see cref="IsRunningIn"/>), and signalled
    /// through the pidfd, so a recycled pid is never signalled. Returns false when no qemu of that VM ran. The VM's
    /// virtiofsds end too (they exit once qemu is gone; one that does not is signalled), and their sockets are removed.
    /// The state directory is left as it is (see <see cref="Sandboxes.Sandbox.RemoveStaleAsync"/> for the whole removal).
    /// </summary>
    /// <exception cref="VmException">qemu may not be signalled, or outlived SIGKILL.</exception>
    public static async Task<bool> KillAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        string directory = Path.GetFullPath(stateDirectory);
        bool killed = await KillQemuAsync(directory, cancellationToken).ConfigureAwait(false);
        await Virtiofsd.StopStrayAsync(directory).ConfigureAwait(false);
        return killed;
    }

    private static async Task<bool> KillQemuAsync(string directory, CancellationToken cancellationToken)
    {
        if (ReadRecordedPid(directory) is not { } pid)
        {
            await KillVsockBackendProcessAsync(directory).ConfigureAwait(false);
            return false;
        }
        using var process = QemuProcess.TryOpen(pid);
        if (process is null || !IsQemuWithQmpSocket(pid, Path.Combine(directory, "qmp.sock")))
        {
            await KillVsockBackendProcessAsync(directory).ConfigureAwait(false);
            return false;
        }
        foreach (bool force in new[] { false, true })
        {
            if (force)
            {
                process.Kill();
            }
            else
            {
                process.Terminate();
            }
            try
            {
                await process.WaitForExitAsync(cancellationToken).WaitAsync(QuitGrace, cancellationToken).ConfigureAwait(false);
                // A detached VM's backend process ends by itself once qemu has gone; waited for (and killed if
                // need be), so that nothing of the VM is left when this returns.
                await KillVsockBackendProcessAsync(directory).ConfigureAwait(false);
                return true;
            }
            catch (TimeoutException)
            {
            }
        }
        throw new VmException($"qemu (pid {pid}) of the VM in {directory} is still running after SIGKILL");
    }

    /// <summary>The pid file's process really is this VM's qemu (not a recycled pid): its command line names our QMP socket.</summary>
    private bool IsQemuOfThisVm() => IsQemuWithQmpSocket(ProcessId, QmpSocketPath);

    private static bool IsQemuWithQmpSocket(int pid, string qmpSocketPath) => QemuProcess.CommandLineContains(pid, qmpSocketPath);

    /// <summary>Awaits <paramref name="step"/>, failing early if qemu exits first.</summary>
    private async Task<T> UntilExitAsync<T>(Task<T> step, string what)
    {
        using var stop = new CancellationTokenSource();
        var exited = _process!.WaitForExitAsync(stop.Token);
        var first = await Task.WhenAny(step, exited).ConfigureAwait(false);
        stop.Cancel();
        if (first != step)
        {
            string code = _exited is not null ? $" with code {(await _exited.ConfigureAwait(false)).ExitCode}" : "";
            throw new QemuBootException($"qemu exited{code} before {what}", ConsoleTail());
        }
        return await step.ConfigureAwait(false);
    }
}
