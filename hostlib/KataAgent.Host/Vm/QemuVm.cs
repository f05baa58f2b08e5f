using System.Diagnostics;
using CliWrap;
using KataAgent.Host.Transport;

namespace KataAgent.Host.Vm;

/// <summary>
/// One qemu VM running the agent as PID 1: KVM when /dev/kvm exists, TCG otherwise; the agent on a
/// virtio-serial port whose host end is a unix socket in the state directory; the serial console
/// in a log file; virtio-rng for the guest's CRNG. qemu runs under <c>setpriv --pdeathsig KILL</c>,
/// so it dies with the process that started it even if that process crashes; dispose stops it and
/// removes the state directory.
/// </summary>
public sealed class QemuVm : IAsyncDisposable
{
    private readonly QemuOptions _options;
    private readonly CancellationTokenSource _kill = new();
    private CommandTask<CommandResult>? _qemu;

    private QemuVm(QemuOptions options)
    {
        _options = options;
    }

    /// <summary>The unix socket of the agent's virtio-serial port.</summary>
    public string AgentSocketPath => Path.Combine(_options.StateDirectory, "agent.sock");

    /// <summary>The guest's serial console, as a file.</summary>
    public string ConsoleLogPath => Path.Combine(_options.StateDirectory, "console.log");

    /// <summary>The address the host library connects to.</summary>
    public string AgentAddress => $"serial://{AgentSocketPath}";

    /// <summary>Whether the VM runs under KVM.</summary>
    public bool UsesKvm { get; private set; }

    /// <summary>The connected agent, once <see cref="StartAsync"/> returned.</summary>
    public AgentClient Agent { get; private set; } = null!;

    /// <summary>Time from starting qemu to the agent's first Check answer.</summary>
    public TimeSpan BootToReady { get; private set; }

    /// <summary>qemu's exit, once it has exited.</summary>
    public Task<CommandResult> Exited => _qemu?.Task ?? throw new InvalidOperationException("not started");

    /// <summary>Boots the VM and connects to its agent; throws <see cref="QemuBootException"/> with the console tail on failure.</summary>
    public static async Task<QemuVm> StartAsync(QemuOptions options, CancellationToken cancellationToken = default)
    {
        foreach (var (path, what) in new[] { (options.KernelPath, "kernel"), (options.InitrdPath, "initrd") })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"the {what} {path} does not exist (./build.sh makes out/vmlinuz and out/initrd.img)", path);
            }
        }
        Directory.CreateDirectory(options.StateDirectory);
        var vm = new QemuVm(options);
        try
        {
            vm.Launch();
            var clock = Stopwatch.StartNew();
            var connect = AgentClient.ConnectAsync(new UnixSocketConnector(vm.AgentSocketPath, vm.AgentAddress), new AgentClientOptions { ConnectTimeout = options.AgentTimeout, RetryInterval = TimeSpan.FromMilliseconds(100) }, cancellationToken);
            var finished = await Task.WhenAny(connect, vm._qemu!.Task).ConfigureAwait(false);
            if (finished != connect)
            {
                throw new QemuBootException($"qemu exited with code {vm._qemu.Task.Result.ExitCode} before the agent answered", vm.ConsoleTail());
            }
            vm.Agent = await connect.ConfigureAwait(false);
            vm.BootToReady = clock.Elapsed;
            return vm;
        }
        catch (Exception e) when (e is not QemuBootException and not OperationCanceledException)
        {
            string tail = vm.ConsoleTail();
            await vm.DisposeAsync().ConfigureAwait(false);
            throw new QemuBootException($"the VM's agent did not come up: {e.Message}", tail, e);
        }
        catch
        {
            await vm.DisposeAsync().ConfigureAwait(false);
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

    /// <summary>Stops qemu (if still running) and removes the state directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync().ConfigureAwait(false);
        }
        if (_qemu is not null && !_qemu.Task.IsCompleted)
        {
            _kill.Cancel();
        }
        if (_qemu is not null)
        {
            try
            {
                await _qemu.Task.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _kill.Dispose();
        try
        {
            Directory.Delete(_options.StateDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Launch()
    {
        UsesKvm = _options.AllowKvm && File.Exists("/dev/kvm");
        string[] append = ["console=ttyS0", "panic=-1", "quiet", "agent.server_addr=serial://agent.channel.0", .. _options.KernelArguments];
        string[] qemu =
        [
            _options.QemuPath,
            "-machine", UsesKvm ? "q35,accel=kvm" : "q35,accel=tcg",
            "-cpu", UsesKvm ? "host" : "max",
            "-smp", _options.Cpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-m", _options.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-nodefaults", "-nographic", "-no-reboot",
            "-kernel", _options.KernelPath, "-initrd", _options.InitrdPath,
            "-append", string.Join(' ', append),
            "-serial", $"file:{ConsoleLogPath}",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", $"socket,id=agent,path={AgentSocketPath},server=on,wait=off",
            "-device", "virtserialport,bus=vser0.0,chardev=agent,name=agent.channel.0",
            "-pidfile", Path.Combine(_options.StateDirectory, "qemu.pid"),
        ];
        // The parent-death signal fires when the *thread* that started qemu ends, so start it from
        // a thread that lives exactly as long as qemu does.
        using var started = new ManualResetEventSlim();
        Exception? failure = null;
        var launcher = new Thread(() =>
        {
            try
            {
                _qemu = Cli.Wrap("setpriv")
                    .WithArguments(["--pdeathsig", "KILL", "--", .. qemu])
                    .WithValidation(CommandResultValidation.None)
                    .ExecuteAsync(_kill.Token);
            }
            catch (Exception e)
            {
                failure = e;
                started.Set();
                return;
            }
            started.Set();
            try
            {
                _qemu.Task.Wait();
            }
            catch (AggregateException)
            {
            }
        })
        { IsBackground = true, Name = "qemu" };
        launcher.Start();
        started.Wait();
        if (failure is not null)
        {
            throw new InvalidOperationException($"cannot start {_options.QemuPath} (through setpriv): {failure.Message}", failure);
        }
    }
}
