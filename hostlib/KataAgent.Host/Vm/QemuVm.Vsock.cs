using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Host.Vsock;
using KataAgent.Linux.Addressing;
using KataAgent.Linux.Interop;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>The kernel's vhost-vsock device: where it exists, vsock VMs use <c>vhost-vsock-pci</c>.</summary>
    internal const string VhostVsockDevicePath = "/dev/vhost-vsock";

    /// <summary>The guest CID behind our own backend: each VM has a backend of its own, so no host-wide uniqueness is needed.</summary>
    internal const uint VhostUserGuestCid = 3;

    /// <summary>How long a detached backend process gets to create its sockets.</summary>
    private static readonly TimeSpan BackendStartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a backend process gets to notice its qemu has gone before it is killed.</summary>
    private static readonly TimeSpan BackendExitGrace = TimeSpan.FromSeconds(5);

    private VhostUserVsockBackend? _vsockBackend;
    private StreamWriter? _vsockBackendLog;
    private QemuProcess? _vsockBackendProcess;

    /// <summary>The vhost-user socket of the vsock device: our backend listens, qemu connects.</summary>
    public string VhostUserVsockSocketPath => Path.Combine(_options.StateDirectory, "vhost-user-vsock.sock");

    /// <summary>
    /// The hybrid-vsock socket of the vsock device (vsock channel without /dev/vhost-vsock): write
    /// <c>CONNECT PORT\n</c>, read <c>OK …\n</c>, then it is a stream to the guest's port; a guest connection to
    /// CID 2 port P reaches the unix socket <c>{this}_P</c>.
    /// </summary>
    public string HybridVsockSocketPath => Path.Combine(_options.StateDirectory, "vsock.sock");

    /// <summary>The vhost-user-vsock backend's log (the detached backend process's output, or the in-process backend's lines).</summary>
    public string VsockBackendLogPath => Path.Combine(_options.StateDirectory, "vhost-user-vsock.log");

    /// <summary>The guest's vsock CID; 0 on the serial channel.</summary>
    public uint GuestCid { get; private set; }

    /// <summary>The detached backend process's pid, or null (in-process backend, kernel vhost-vsock, serial).</summary>
    internal int? VsockBackendProcessId { get; private set; }

    internal QemuVsockDevice VsockDevice { get; set; }

    /// <summary>
    /// The agent's address from the host: <c>hvsock://…/vsock.sock:1024</c> (our vhost-user-vsock backend),
    /// <c>vsock://CID:1024</c> (the kernel's vhost-vsock) or <c>serial://…/agent.sock</c> (the serial channel), for
    /// <see cref="AgentClient.ConnectAsync(AgentAddress, AgentClientOptions?, CancellationToken)"/>. Over vsock any
    /// number of clients may connect at once.
    /// </summary>
    public AgentAddress AgentAddress => Addresses.Agent;

    /// <summary>Where the debug console answers (a shell per connection over vsock), or null without <see cref="QemuOptions.DebugConsole"/>.</summary>
    public AgentAddress? DebugConsoleAddress => Addresses.DebugConsole;

    /// <summary>
    /// Where log readers connect to get the agent's log lines as they come (vsock port 1025), or null on the serial
    /// channel. <see cref="AgentLogPath"/> has every line since boot either way.
    /// </summary>
    public AgentAddress? AgentLogAddress => Addresses.Log;

    /// <summary>Every address of this VM's agent.</summary>
    public QemuVmAddresses Addresses => AddressesOf(_options.StateDirectory, VsockDevice, GuestCid, _options.DebugConsole);

    /// <summary>A VM that is not started, with the vsock device chosen: for tests of its command line and addresses.</summary>
    internal static QemuVm Unstarted(QemuOptions options, QemuVsockDevice device, uint guestCid) =>
        new(options) { VsockDevice = device, GuestCid = guestCid };

    /// <summary>
    /// The addresses of the agent of the VM whose state is in <paramref name="stateDirectory"/>, as its vm.json
    /// records them; null when there is no vm.json (no VM there, or one still starting). Reads a file, connects to
    /// nothing: for tools that list VMs or connect to one of their ports (kactl).
    /// </summary>
    public static QemuVmAddresses? ReadAddresses(string stateDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        string directory = Path.GetFullPath(stateDirectory);
        QemuVmState? state;
        try
        {
            state = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(directory, "vm.json")), QemuVmStateJsonContext.Default.QemuVmState);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
        return state is null ? null : AddressesOf(directory, state.VsockDevice, state.GuestCid, state.Options.DebugConsole);
    }

    private static QemuVmAddresses AddressesOf(string directory, QemuVsockDevice device, uint cid, bool debugConsole)
    {
        string hybrid = Path.Combine(directory, "vsock.sock");
        string Vsock(uint port) => device == QemuVsockDevice.Kernel
            ? string.Create(CultureInfo.InvariantCulture, $"vsock://{cid}:{port}")
            : string.Create(CultureInfo.InvariantCulture, $"hvsock://{hybrid}:{port}");
        return device == QemuVsockDevice.None
            ? new QemuVmAddresses(
                AgentAddress.Parse("serial://" + Path.Combine(directory, "agent.sock")),
                null,
                debugConsole ? AgentAddress.Parse("serial://" + Path.Combine(directory, "console.sock")) : null)
            : new QemuVmAddresses(
                AgentAddress.Parse(Vsock(AgentAddress.DefaultAgentPort)),
                AgentAddress.Parse(Vsock(AgentAddress.DefaultLogPort)),
                debugConsole ? AgentAddress.Parse(Vsock(AgentAddress.DefaultDebugConsolePort)) : null);
    }

    /// <summary>
    /// Chooses the vsock device and, for our own backend, starts it: it must listen before qemu starts (qemu is the
    /// client of its socket). A VM this process owns gets the backend in-process (it dies with this process, as qemu
    /// does); a detached one gets it as a process of its own (<see cref="QemuOptions.VsockBackendCommand"/>).
    /// </summary>
    private async Task StartVsockAsync(CancellationToken cancellationToken)
    {
        if (_options.AgentChannel != QemuAgentChannel.Vsock)
        {
            VsockDevice = QemuVsockDevice.None;
            return;
        }
        if (File.Exists(VhostVsockDevicePath))
        {
            VsockDevice = QemuVsockDevice.Kernel;
            GuestCid = AllocateKernelGuestCid();
            return;
        }
        VsockDevice = QemuVsockDevice.VhostUser;
        GuestCid = VhostUserGuestCid;
        if (_options.Detached)
        {
            await StartVsockBackendProcessAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        _vsockBackendLog = new StreamWriter(VsockBackendLogPath, append: true) { AutoFlush = true };
        try
        {
            _vsockBackend = VhostUserVsockBackend.Start(new VhostUserVsockOptions
            {
                VhostUserSocketPath = VhostUserVsockSocketPath,
                HybridSocketPath = HybridVsockSocketPath,
                GuestCid = GuestCid,
                Log = TextWriter.Synchronized(_vsockBackendLog),
            });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await _vsockBackendLog.DisposeAsync().ConfigureAwait(false);
            _vsockBackendLog = null;
            throw new VmException($"cannot start the vhost-user-vsock backend on {VhostUserVsockSocketPath}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Starts <see cref="QemuOptions.VsockBackendCommand"/> in a session of its own (nothing of ours takes it down;
    /// it ends when qemu has gone), its output into <see cref="VsockBackendLogPath"/>, and waits until it listens.
    /// </summary>
    private async Task StartVsockBackendProcessAsync(CancellationToken cancellationToken)
    {
        string[] command = [.. _options.VsockBackendCommand!, .. QemuVsockBackendProcess.Arguments(VhostUserVsockSocketPath, HybridVsockSocketPath, GuestCid, PidFilePath)];
        BufferedCommandResult result;
        try
        {
            // setsid: a session of its own. It does not fork (the background job is no group leader), so $! is its pid.
            result = await Cli.Wrap("sh")
                .WithArguments(["-c", "setsid \"$@\" </dev/null >>\"$0\" 2>&1 & echo $!", VsockBackendLogPath, .. command])
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmException($"cannot start the vhost-user-vsock backend process {command[0]}: {e.Message}", e);
        }
        if (result.ExitCode != 0 || !int.TryParse(result.StandardOutput.Trim(), CultureInfo.InvariantCulture, out int pid))
        {
            throw new VmException($"cannot start the vhost-user-vsock backend process {command[0]}: {result.StandardError.Trim()}");
        }
        VsockBackendProcessId = pid;
        _vsockBackendProcess = QemuProcess.TryOpen(pid);
        var deadline = DateTime.UtcNow + BackendStartTimeout;
        while (!(File.Exists(VhostUserVsockSocketPath) && File.Exists(HybridVsockSocketPath)))
        {
            if (_vsockBackendProcess is null || !_vsockBackendProcess.IsRunning)
            {
                throw new VmException($"the vhost-user-vsock backend process ({string.Join(' ', command)}) exited at once: {BackendLogTail()}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new VmException($"the vhost-user-vsock backend process (pid {pid}) did not create {VhostUserVsockSocketPath} within {BackendStartTimeout.TotalSeconds:0} s: {BackendLogTail()}");
            }
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops the vsock backend; only once qemu has gone (or never started). The in-process one is disposed; the
    /// process of a detached VM ends by itself when it sees qemu gone, and is killed if it has not after a grace.
    /// Never throws: it runs on the way out.
    /// </summary>
    private async Task StopVsockBackendAsync()
    {
        if (_vsockBackend is not null)
        {
            try
            {
                await _vsockBackend.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // Stopping is best effort on the way out; the sockets are deleted with the state directory.
            }
            _vsockBackend = null;
        }
        if (_vsockBackendLog is not null)
        {
            await _vsockBackendLog.DisposeAsync().ConfigureAwait(false);
            _vsockBackendLog = null;
        }
        if (_vsockBackendProcess is null && VsockBackendProcessId is { } pid && QemuProcess.TryOpen(pid) is { } opened)
        {
            if (IsProcessUsing(pid, VhostUserVsockSocketPath))
            {
                _vsockBackendProcess = opened;
            }
            else
            {
                opened.Dispose();
            }
        }
        if (_vsockBackendProcess is { } process)
        {
            await EndBackendProcessAsync(process, BackendExitGrace).ConfigureAwait(false);
            process.Dispose();
            _vsockBackendProcess = null;
        }
    }

    /// <summary>Waits <paramref name="grace"/> for a backend process to end by itself, then kills it and waits for that.</summary>
    private static async Task EndBackendProcessAsync(QemuProcess process, TimeSpan grace)
    {
        if (await process.ExitsWithinAsync(grace).ConfigureAwait(false))
        {
            return;
        }
        try
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(QuitGrace).ConfigureAwait(false);
        }
        catch (Exception e) when (e is VmException or TimeoutException)
        {
            // Not ours to signal, or stuck in the kernel: nothing more to do on the way out.
        }
    }

    /// <summary>The detached backend process of the VM in <paramref name="directory"/> (as vm.json records it), ended: for <see cref="KillAsync"/>.</summary>
    private static async Task KillVsockBackendProcessAsync(string directory)
    {
        QemuVmState? state;
        try
        {
            state = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(directory, "vm.json")), QemuVmStateJsonContext.Default.QemuVmState);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return;
        }
        if (state?.VsockBackendProcessId is not { } pid)
        {
            return;
        }
        using var process = QemuProcess.TryOpen(pid);
        if (process is not null && IsProcessUsing(pid, Path.Combine(directory, "vhost-user-vsock.sock")))
        {
            await EndBackendProcessAsync(process, BackendExitGrace).ConfigureAwait(false);
        }
    }

    private string BackendLogTail()
    {
        try
        {
            return string.Join(" | ", File.ReadAllLines(VsockBackendLogPath).TakeLast(5));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    /// <summary>
    /// A CID no other VM on this host holds: claimed with VHOST_VSOCK_SET_GUEST_CID on a /dev/vhost-vsock fd of our
    /// own (EADDRINUSE when taken), then released for qemu to claim, as Kata does. Random, so VMs started at the
    /// same moment rarely try the same one.
    /// </summary>
    private static unsafe uint AllocateKernelGuestCid()
    {
        int fd = Libc.Open(VhostVsockDevicePath, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            var error = new LinuxException($"open({VhostVsockDevicePath})", Marshal.GetLastPInvokeError());
            throw new VmException($"cannot allocate a guest CID: {error.Message}", error);
        }
        using var device = new SafeFileDescriptor(fd);
        for (int attempt = 0; attempt < 64; attempt++)
        {
            ulong cid = (ulong)Random.Shared.NextInt64(3, uint.MaxValue - 1);
            if (Libc.Ioctl(fd, Libc.VHOST_VSOCK_SET_GUEST_CID, &cid) == 0)
            {
                return (uint)cid;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EADDRINUSE)
            {
                var error = new LinuxException($"ioctl({VhostVsockDevicePath}, VHOST_VSOCK_SET_GUEST_CID)", errno);
                throw new VmException($"cannot allocate a guest CID: {error.Message}", error);
            }
        }
        throw new VmException("cannot allocate a guest CID: 64 random CIDs were all in use");
    }

    /// <summary>Whether <paramref name="pid"/>'s command line names <paramref name="path"/> (as is, or in qemu's comma-doubled form).</summary>
    internal static bool IsProcessUsing(int pid, string path) =>
        QemuProcess.CommandLineContains(pid, path) || QemuProcess.CommandLineContains(pid, Escape(path));

    /// <summary>Removes a socket file, if it is there.</summary>
    internal static void DeleteSocket(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
