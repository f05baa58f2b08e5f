using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.RuntimeOptions;
using KataAgent.Protocols.Ttrpc;
using KataAgent.Shim.Cli;
using CliWrap.Buffered;
using Xunit;
using KataAgent.Linux.Interop;

namespace KataAgent.Tests.Shim;

/// <summary>
/// The published shim run as containerd runs it (as root: the sockets live in /run/containerd/s): <c>start</c>
/// prints exactly the address of a socket that is already listening, with no pipe left open behind it; the daemon
/// serves ttrpc there (to our client and to containerd's <c>ctr shim</c>), a pod's containers get the sandbox's
/// shim, stale sockets are replaced, and SIGTERM ends the daemon and removes its socket.
/// </summary>
public sealed class ShimProcessTests : IDisposable
{
    private const string Namespace = "kataagent-shimtests";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _directory = new();
    private readonly List<int> _daemons = [];
    private readonly List<string> _addresses = [];

    private static string Shim => RepoPaths.Require(Path.Combine(RepoPaths.Root, "out", "containerd-shim-kataagent-v2"));

    /// <summary>containerd's -address: only a name in the socket's hash here, so unique per test.</summary>
    private string ContainerdAddress => _directory.File("containerd.sock");

    public void Dispose()
    {
        foreach (int pid in _daemons)
            _ = KataAgent.Linux.Interop.Libc.Kill(pid, 9);
        foreach (string address in _addresses)
            File.Delete(ShimSocketAddress.PathOf(address));
        _directory.Dispose();
    }

    private string Bundle(string id, string? annotations = null)
    {
        string bundle = _directory.CreateDirectory(id);
        File.WriteAllText(Path.Combine(bundle, "config.json"),
            """{"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},"annotations":""" + (annotations ?? "{}") + "}");
        return bundle;
    }

    private string ExpectedAddress(string group)
    {
        string address = ShimSocketAddress.For(ContainerdAddress, Namespace, group);
        _addresses.Add(address);
        return address;
    }

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the shim as containerd does (cwd the bundle, a new process group) and reads both pipes to their end.</summary>
    private static async Task<Run> RunShimAsync(string bundle, byte[] stdin, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(Shim)
        {
            WorkingDirectory = bundle,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        start.Environment["GOMAXPROCS"] = "2";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;
        using var process = Process.Start(start)!;
        await process.StandardInput.BaseStream.WriteAsync(stdin);
        process.StandardInput.Close();
        // containerd's CombinedOutput returns only once every copy of the pipes is closed: a daemon that kept one
        // would hold these reads (and containerd) for ever.
        var stdout = process.StandardOutput.ReadToEndAsync().WaitAsync(Patience);
        var stderr = process.StandardError.ReadToEndAsync().WaitAsync(Patience);
        await process.WaitForExitAsync().WaitAsync(Patience);
        return new Run(process.ExitCode, await stdout, await stderr);
    }

    private Task<Run> StartAsync(string bundle, string id, byte[]? stdin = null, IReadOnlyDictionary<string, string>? environment = null) =>
        RunShimAsync(bundle, stdin ?? [], environment,
            "-namespace", Namespace, "-address", ContainerdAddress, "-publish-binary", "/usr/bin/containerd", "-id", id, "start");

    private int DaemonOf(string bundle)
    {
        int pid = int.Parse(File.ReadAllText(Path.Combine(bundle, "shim.pid")), NumberStyles.None, CultureInfo.InvariantCulture);
        _daemons.Add(pid);
        return pid;
    }

    private static async Task<TtrpcClient> ConnectAsync(string address)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(ShimSocketAddress.PathOf(address)));
        return new TtrpcClient(new NetworkStream(socket, ownsSocket: true));
    }

    /// <summary>
    /// The daemon's fds that are the write end of a pipe whose read end it does not hold: start's ready pipe, if it
    /// were left open. The fd number says nothing, as the runtime reuses a freed 4 for its own fds (its signal pipe
    /// among them, which the daemon holds both ends of).
    /// </summary>
    private static List<string> WriteOnlyPipesHeldAlone(int pid)
    {
        var pipes = new List<(string Fd, string Target, bool WriteOnly)>();
        foreach (string entry in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target = new FileInfo(entry).LinkTarget;
            if (target is null || !target.StartsWith("pipe:", StringComparison.Ordinal))
                continue;
            string fd = Path.GetFileName(entry);
            string flags = File.ReadLines($"/proc/{pid}/fdinfo/{fd}").First(line => line.StartsWith("flags:", StringComparison.Ordinal))["flags:".Length..].Trim();
            bool writeOnly = (Convert.ToInt32(flags, 8) & 3) == 1;
            pipes.Add((fd, target, writeOnly));
        }
        return pipes.Where(pipe => pipe.WriteOnly && pipes.Count(other => other.Target == pipe.Target) == 1)
            .Select(pipe => $"{pipe.Fd} -> {pipe.Target}").ToList();
    }

    private static bool IsGone(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
    }

    [Fact]
    public async Task Start_prints_only_the_address_of_a_listening_socket_and_leaves_no_pipe_open()
    {
        string bundle = Bundle("sb1", """{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"sb1"}""");
        string expected = ExpectedAddress("sb1");

        var run = await StartAsync(bundle, "sb1");

        run.Should().Be(new Run(0, expected, ""), "stdout and stderr are containerd's address, combined");
        File.ReadAllText(Path.Combine(bundle, "address")).Should().Be(expected);
        int daemon = DaemonOf(bundle);
        IsGone(daemon).Should().BeFalse();
        string stat = File.ReadAllText($"/proc/{daemon}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        fields[3].Should().Be(daemon.ToString(CultureInfo.InvariantCulture), "the daemon leads a session of its own");
        for (int fd = 0; fd <= 2; fd++)
            new FileInfo($"/proc/{daemon}/fd/{fd}").LinkTarget.Should().Be("/dev/null", $"fd {fd} of the daemon holds no pipe of start's");
        new FileInfo($"/proc/{daemon}/fd/3").LinkTarget.Should().StartWith("socket:");
        WriteOnlyPipesHeldAlone(daemon).Should().BeEmpty("the ready pipe is closed once used");
        File.ReadAllText($"/proc/{daemon}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries).Skip(1).Should().Equal(
            "-namespace", Namespace, "-id", "sb1", "-address", ContainerdAddress, "-publish-binary", "/usr/bin/containerd");
        int ownScore = int.Parse(File.ReadAllText("/proc/self/oom_score_adj").Trim(), CultureInfo.InvariantCulture);
        int.Parse(File.ReadAllText($"/proc/{daemon}/oom_score_adj").Trim(), CultureInfo.InvariantCulture).Should().Be(Math.Min(ownScore + 1, 1000));
        new FileInfo(ShimSocketAddress.PathOf(expected)).UnixFileMode.Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        await using var client = await ConnectAsync(expected);
        var call = () => client.CallAsync("kataagent.tests.Probe", "Ping", new Empty(), Empty.Parser, TimeSpan.FromSeconds(10));
        (await call.Should().ThrowAsync<RpcException>()).Which.Status.Should().Be(
            new Grpc.Core.Status(StatusCode.Unimplemented, "service kataagent.tests.Probe"), "the daemon answers as Go's ttrpc does");
    }

    [Fact]
    public async Task Containerds_own_ttrpc_client_reaches_the_daemon()
    {
        string bundle = Bundle("solo1");
        ExpectedAddress("solo1");
        (await StartAsync(bundle, "solo1")).ExitCode.Should().Be(0);
        DaemonOf(bundle);

        // ctr dials the conventional path itself (reference §2.3); an answer with a status proves the address, the
        // same-user check and the ttrpc framing all match containerd's Go client.
        var ctr = await CliWrap.Cli.Wrap(HostTools.Require("ctr", "containerd"))
            .WithArguments(["-a", ContainerdAddress, "-n", Namespace, "shim", "--id", "solo1", "state"])
            .WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteBufferedAsync();

        ctr.ExitCode.Should().NotBe(0, "no task solo1 exists in the daemon");
        ctr.StandardError.Should().Contain("rpc error: code = ").And.NotContain("fail to connect");
    }

    [Fact]
    public async Task A_pods_container_gets_the_sandboxs_address_and_no_daemon()
    {
        string sandbox = Bundle("pod1", """{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"pod1"}""");
        string expected = ExpectedAddress("pod1");
        (await StartAsync(sandbox, "pod1")).Should().Be(new Run(0, expected, ""));
        DaemonOf(sandbox);
        string container = Bundle("ctr1", """{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"}""");
        string crio = Bundle("ctr2", """{"io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.cri-o.SandboxID":"pod1"}""");

        (await StartAsync(container, "ctr1")).Should().Be(new Run(0, expected, ""));
        (await StartAsync(crio, "ctr2")).Should().Be(new Run(0, expected, ""));

        File.ReadAllText(Path.Combine(container, "address")).Should().Be(expected);
        File.Exists(Path.Combine(container, "shim.pid")).Should().BeFalse("the sandbox's daemon serves the container");
        File.Exists(ShimSocketAddress.PathOf(ShimSocketAddress.For(ContainerdAddress, Namespace, "ctr1"))).Should().BeFalse();
    }

    [Fact]
    public async Task A_pods_container_without_its_sandboxs_shim_is_refused()
    {
        string container = Bundle("ctr9", """{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"gonepod"}""");
        string address = ExpectedAddress("gonepod");

        var run = await StartAsync(container, "ctr9");

        run.ExitCode.Should().Be(1);
        run.Stdout.Should().BeEmpty();
        run.Stderr.Should().Be($"containerd-shim-kataagent-v2: the shim of sandbox gonepod is not running: nothing accepts connections on {address}\n");
        File.Exists(Path.Combine(container, "address")).Should().BeFalse();
    }

    [Fact]
    public async Task A_second_start_of_a_live_shim_reuses_it()
    {
        string bundle = Bundle("solo2");
        string expected = ExpectedAddress("solo2");
        (await StartAsync(bundle, "solo2")).ExitCode.Should().Be(0);
        int first = DaemonOf(bundle);

        (await StartAsync(bundle, "solo2")).Should().Be(new Run(0, expected, ""));

        DaemonOf(bundle).Should().Be(first, "runc's shim answers a live socket with its address and starts nothing");
    }

    [Fact]
    public async Task A_stale_socket_is_replaced()
    {
        string bundle = Bundle("solo3");
        string expected = ExpectedAddress("solo3");
        // A socket file nobody listens on any more, as a killed shim leaves it.
        ShimSocket.Listen(expected).Dispose();
        File.Exists(ShimSocketAddress.PathOf(expected)).Should().BeTrue();
        ShimSocket.CanConnect(expected).Should().BeFalse();

        (await StartAsync(bundle, "solo3")).Should().Be(new Run(0, expected, ""));

        DaemonOf(bundle);
        await using var client = await ConnectAsync(expected);
        var call = () => client.CallAsync("kataagent.tests.Probe", "Ping", new Empty(), Empty.Parser, TimeSpan.FromSeconds(10));
        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unimplemented);
    }

    [Fact]
    public async Task Sigterm_ends_the_daemon_and_removes_its_socket()
    {
        string bundle = Bundle("solo4");
        string expected = ExpectedAddress("solo4");
        (await StartAsync(bundle, "solo4")).ExitCode.Should().Be(0);
        int daemon = DaemonOf(bundle);
        await using var idle = await ConnectAsync(expected);

        // At once: start returns only once the daemon is ready, its SIGTERM handling in place.
        KataAgent.Linux.Interop.Libc.Kill(daemon, 15).Should().Be(0);

        var deadline = DateTime.UtcNow + Patience;
        while (!IsGone(daemon) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        IsGone(daemon).Should().BeTrue();
        File.Exists(ShimSocketAddress.PathOf(expected)).Should().BeFalse();
        await idle.Completion.WaitAsync(Patience);
    }

    [Fact]
    public async Task The_daemon_logs_to_the_bundles_log_fifo()
    {
        string bundle = Bundle("solo5");
        string expected = ExpectedAddress("solo5");
        string fifo = Path.Combine(bundle, "log");
        (await HostTools.RunAsync("mkfifo", ["-m", "0700", fifo])).ExitCode.Should().Be(0);
        // containerd holds the FIFO open read-write and non-blocking before it runs start.
        using var reader = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(
            KataAgent.Linux.Interop.Libc.Open(fifo, KataAgent.Linux.Interop.Libc.O_RDWR | KataAgent.Linux.Interop.Libc.O_CLOEXEC, 0), ownsHandle: true), FileAccess.Read);

        (await StartAsync(bundle, "solo5")).Should().Be(new Run(0, expected, ""), "the log goes to the FIFO, never to start's output");
        int daemon = DaemonOf(bundle);

        var buffer = new byte[4096];
        int read = await reader.ReadAsync(buffer).AsTask().WaitAsync(Patience);
        string line = Encoding.UTF8.GetString(buffer, 0, read);
        line.Should().StartWith("time=\"").And.Contain($"level=info msg=\"serving on {ShimSocketAddress.PathOf(expected)}\"")
            .And.Contain($"namespace={Namespace} id=solo5 pid={daemon}");
        new FileInfo($"/proc/{daemon}/fd/1").LinkTarget.Should().Be(fifo);
        new FileInfo($"/proc/{daemon}/fd/2").LinkTarget.Should().Be(fifo);
    }

    [Fact]
    public async Task The_runtime_options_config_path_reaches_the_daemon()
    {
        string bundle = Bundle("solo6");
        ExpectedAddress("solo6");
        var options = new Any { TypeUrl = "runtimeoptions.v1.Options", Value = new Options { ConfigPath = "/etc/kataagent/test.json" }.ToByteString() };

        (await StartAsync(bundle, "solo6", options.ToByteArray())).ExitCode.Should().Be(0);

        int daemon = DaemonOf(bundle);
        File.ReadAllText($"/proc/{daemon}/environ").Split('\0').Should().Contain("KATAAGENT_SHIM_CONFIG=/etc/kataagent/test.json");
    }

    [Fact]
    public async Task The_daemon_run_by_hand_serves_its_socket_flag_and_ends_on_sigterm()
    {
        string bundle = Bundle("solo7");
        string socket = _directory.File("daemon.sock");
        var start = new ProcessStartInfo(Shim)
        {
            WorkingDirectory = bundle,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-namespace", Namespace, "-id", "solo7", "-address", ContainerdAddress, "-socket", socket })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        _daemons.Add(process.Id);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        var deadline = DateTime.UtcNow + Patience;
        while (!File.Exists(socket) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        await using (var client = await ConnectAsync(ShimSocketAddress.UnixScheme + socket))
        {
            var call = () => client.CallAsync("kataagent.tests.Probe", "Ping", new Empty(), Empty.Parser, TimeSpan.FromSeconds(10));
            (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unimplemented);
        }
        KataAgent.Linux.Interop.Libc.Kill(process.Id, 15).Should().Be(0);
        await process.WaitForExitAsync().WaitAsync(Patience);

        process.ExitCode.Should().Be(0);
        File.Exists(socket).Should().BeFalse();
        (await stdout).Should().BeEmpty("the daemon never writes to stdout");
        (await stderr).Should().Contain($"msg=\"serving on {socket}\"").And.Contain("msg=\"received SIGTERM\"").And.Contain("msg=\"shim exited\"");
    }

    [Fact]
    public async Task Version_and_bad_flags_answer_as_go_does()
    {
        var version = await RunShimAsync(_directory.Path, [], null, "-v");
        version.ExitCode.Should().Be(0);
        version.Stdout.Should().StartWith(Shim + ":\n  Version:  0.1.0");

        var bad = await RunShimAsync(_directory.Path, [], null, "-namespace", Namespace, "-id", "x", "-nosuch", "start");
        bad.Should().Be(new Run(2, "", "containerd-shim-kataagent-v2: flag provided but not defined: -nosuch\n"));

        var noNamespace = await RunShimAsync(_directory.Path, [], null, "-id", "x", "start");
        noNamespace.Should().Be(new Run(2, "", "containerd-shim-kataagent-v2: shim namespace cannot be empty (-namespace)\n"));
    }
}
