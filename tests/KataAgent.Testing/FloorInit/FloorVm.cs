using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using CliWrap;
using KataAgent.Host.Vm;

namespace KataAgent.Testing.FloorInit;

/// <summary>
/// Boots the floor image (<see cref="FloorInitrd"/>) and times qemu start → the floor init's "ready"
/// line arriving on the agent channel's unix socket, the same point in the VM's life where
/// <see cref="QemuVm"/> starts its boot-to-ready clock.
/// <para>
/// <see cref="QemuVm"/> cannot boot this image itself (it waits for a gRPC Check answer and has no
/// public way to launch qemu without one), so <see cref="QemuArguments"/> repeats its command line
/// flag for flag, from the same <see cref="QemuOptions"/>: this is the one place that copy lives, and
/// it must follow QemuVm.Launch when that changes. The floor and the agent then differ only in
/// the initrd.
/// </para>
/// </summary>
public static class FloorVm
{
    private const string ReadyLine = "ready";
    private const string ReportPrefix = "floor ";

    /// <summary>QemuVm.Launch's qemu command line for <paramref name="options"/>, the channel's socket at <paramref name="agentSocket"/>.</summary>
    public static string[] QemuArguments(QemuOptions options, string agentSocket, string consoleLog, string pidFile, bool useKvm)
    {
        string[] append = ["console=ttyS0", "panic=-1", "quiet", "no_timer_check", "agent.server_addr=serial://agent.channel.0", .. options.KernelArguments];
        return
        [
            options.QemuPath,
            "-machine", useKvm ? "q35,accel=kvm" : "q35,accel=tcg",
            "-cpu", useKvm ? "host" : "max",
            "-smp", options.Cpus.ToString(CultureInfo.InvariantCulture),
            "-m", options.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-nographic", "-no-reboot",
            "-kernel", options.KernelPath, "-initrd", options.InitrdPath,
            "-append", string.Join(' ', append),
            "-serial", $"file:{consoleLog}",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", $"socket,id=agent,path={agentSocket},server=on,wait=off",
            "-device", "virtserialport,bus=vser0.0,chardev=agent,name=agent.channel.0",
            "-pidfile", pidFile,
        ];
    }

    /// <summary>
    /// Boots <paramref name="options"/>' image, waits for "ready" and the report line after it, then kills qemu and
    /// removes the state directory. Throws <see cref="QemuBootException"/> with the console tail when the
    /// line does not come within <see cref="QemuOptions.AgentTimeout"/> or qemu exits first.
    /// </summary>
    public static async Task<FloorBoot> BootAsync(QemuOptions options, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(options.StateDirectory);
        string agentSocket = Path.Combine(options.StateDirectory, "agent.sock");
        string consoleLog = Path.Combine(options.StateDirectory, "console.log");
        bool useKvm = options.AllowKvm && File.Exists("/dev/kvm");
        string[] qemu = QemuArguments(options, agentSocket, consoleLog, Path.Combine(options.StateDirectory, "qemu.pid"), useKvm);
        using var kill = new CancellationTokenSource();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.AgentTimeout);
        Task<CommandResult>? exited = null;
        try
        {
            exited = Launch(qemu, kill.Token);
            var clock = Stopwatch.StartNew();
            var reading = ReadLinesAsync(agentSocket, clock, timeout.Token);
            if (await Task.WhenAny(reading, exited) != reading)
            {
                throw new QemuBootException($"qemu exited with code {exited.Result.ExitCode} before the floor init wrote \"{ReadyLine}\"", ConsoleTail(consoleLog));
            }
            return await reading;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new QemuBootException($"the floor init did not write \"{ReadyLine}\" within {options.AgentTimeout.TotalSeconds:0} s", ConsoleTail(consoleLog), e);
        }
        finally
        {
            kill.Cancel();
            if (exited is not null)
            {
                try
                {
                    await exited.WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (OperationCanceledException)
                {
                }
            }
            Directory.Delete(options.StateDirectory, recursive: true);
        }
    }

    /// <summary>Connects as soon as qemu has made the socket, then reads "ready" (timed) and the report line.</summary>
    private static async Task<FloorBoot> ReadLinesAsync(string agentSocket, Stopwatch clock, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(agentSocket, cancellationToken);
        using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.ASCII);
        TimeSpan? ready = null;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (ready is null && line == ReadyLine)
            {
                ready = clock.Elapsed;
            }
            else if (ready is { } toReady && line.StartsWith(ReportPrefix, StringComparison.Ordinal))
            {
                var fields = line[ReportPrefix.Length..].Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => long.Parse(f[1], CultureInfo.InvariantCulture));
                return new FloorBoot(toReady, TimeSpan.FromMilliseconds(fields["UptimeMs"]), fields["MemTotal"], fields["MemAvailable"]);
            }
        }
        throw new IOException($"the agent channel closed before the floor init wrote \"{ReadyLine}\" and its report line");
    }

    private static async Task<Socket> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                return socket;
            }
            catch (SocketException)
            {
                // qemu has not created the listening socket yet.
                socket.Dispose();
                await Task.Delay(1, cancellationToken);
            }
        }
    }

    /// <summary>Starts qemu as QemuVm does: under setpriv --pdeathsig KILL, from a thread that lives as long as qemu (the signal fires when the starting thread ends).</summary>
    private static Task<CommandResult> Launch(string[] qemu, CancellationToken kill)
    {
        var launched = new TaskCompletionSource<Task<CommandResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var launcher = new Thread(() =>
        {
            CommandTask<CommandResult> running;
            try
            {
                running = Cli.Wrap("setpriv").WithArguments(["--pdeathsig", "KILL", "--", .. qemu])
                    .WithValidation(CommandResultValidation.None).ExecuteAsync(kill);
            }
            catch (Exception e)
            {
                launched.SetException(new InvalidOperationException($"cannot start {qemu[0]} (through setpriv): {e.Message}", e));
                return;
            }
            launched.SetResult(running.Task);
            try
            {
                running.Task.Wait();
            }
            catch (AggregateException)
            {
            }
        })
        { IsBackground = true, Name = "floor-qemu" };
        launcher.Start();
        return launched.Task.GetAwaiter().GetResult();
    }

    private static string ConsoleTail(string consoleLog) =>
        File.Exists(consoleLog) ? string.Join('\n', File.ReadAllText(consoleLog).Split('\n').TakeLast(30)) : "(no console output)";
}
