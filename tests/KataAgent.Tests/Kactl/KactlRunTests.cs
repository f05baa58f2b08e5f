using System.Runtime.InteropServices;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.HostContainers;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>out/kactl run and exec against the published agent, with bundles the tests write (config.json as crun spec writes it, busybox rootfs).</summary>
public sealed partial class KactlRunTests(ContainerAgentFixture fixture) : IClassFixture<ContainerAgentFixture>
{
    private const int Usage = 2;
    private const int RpcFailed = 1;

    private Task<BufferedCommandResult> Kactl(string? standardInput, params string[] arguments) =>
        KactlRunner.RunAsync(["--addr", fixture.Agent.Address, .. arguments], standardInput: standardInput);

    /// <summary>A bundle directory of its own (config.json) whose root.path names the shared busybox rootfs.</summary>
    private string Bundle(TempDirectory directory, bool terminal, params string[] args) =>
        CrunSpecJson.WriteBundle(directory.File("bundle"), fixture.RootfsPath, terminal, args);

    // run --bundle detects the protocol (ttrpc with this agent) unless --protocol names one: both paths are covered.
    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, "grpc")]
    [InlineData(true, "grpc")]
    public async Task Run_passes_stdout_stderr_and_the_exit_code_through(bool unary, string? protocol)
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "sh", "-c", "echo hello from $(hostname); echo to stderr >&2; exit 7");

        var result = await Kactl(null, [.. protocol is null ? [] : new[] { "--protocol", protocol }, "run", "--bundle", bundle, .. unary ? new[] { "--no-streaming" } : []]);

        result.ExitCode.Should().Be(7, KactlRunner.Describe(result) + fixture.Agent.Output);
        result.StandardOutput.Should().Be("hello from crun\n");
        result.StandardError.Should().Be("to stderr\n");
    }

    [Fact]
    public async Task Run_resolves_a_relative_root_path_against_the_bundle_directory()
    {
        // The layout 'crun spec' expects: DIR/config.json and DIR/rootfs.
        using var rootfs = await BusyboxRootfs.CreateAsync();
        string bundle = Path.GetDirectoryName(rootfs.Path)!;
        File.WriteAllText(Path.Combine(bundle, "config.json"), CrunSpecJson.With("rootfs", false, "sh", "-c", "ls /bin/busybox"));

        var result = await Kactl(null, "run", "--bundle", bundle, "--id", "relative-root");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("/bin/busybox\n");
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, "grpc")]
    public async Task Run_feeds_kactls_stdin_to_the_container(bool unary, string? protocol)
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "sh", "-c", "tr a-z A-Z; echo end");
        string input = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i}\n"));

        var result = await Kactl(input, [.. protocol is null ? [] : new[] { "--protocol", protocol }, "run", "--bundle", bundle, .. unary ? new[] { "--no-streaming" } : []]);

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be(input.ToUpperInvariant() + "end\n");
    }

    [Fact]
    public async Task Run_with_tty_gives_the_container_a_terminal_even_when_kactls_stdin_is_not_one()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "tty");

        var result = await Kactl(null, "run", "--bundle", bundle, "--tty");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("/dev/pts/0\r\n");
        result.StandardError.Should().BeEmpty();
    }

    [Fact]
    public async Task Run_follows_process_terminal_unless_tty_false_overrides_it()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, true, "sh", "-c", "tty; true");

        var fromConfig = await Kactl(null, "run", "--bundle", bundle);
        var overridden = await Kactl(null, "run", "--bundle", bundle, "--tty=false");

        fromConfig.ExitCode.Should().Be(0, KactlRunner.Describe(fromConfig));
        fromConfig.StandardOutput.Should().Be("/dev/pts/0\r\n");
        overridden.ExitCode.Should().Be(0, KactlRunner.Describe(overridden));
        overridden.StandardOutput.Should().Be("not a tty\n");
    }

    [Fact]
    public async Task Run_removes_the_container_afterwards_so_the_id_can_be_used_again()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "true");

        var first = await Kactl(null, "run", "--bundle", bundle, "--id", "reused");
        var second = await Kactl(null, "run", "--bundle", bundle, "--id", "reused");

        first.ExitCode.Should().Be(0, KactlRunner.Describe(first));
        second.ExitCode.Should().Be(0, KactlRunner.Describe(second));
        await ExpectGoneAsync("reused");
    }

    [Fact]
    public async Task Run_reports_a_bad_bundle_as_a_usage_error_naming_the_file_and_json_path()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "true");
        File.WriteAllText(Path.Combine(bundle, "config.json"), """{"root":{"path":"/r"},"process":{"args":["sh"],"user":{"uid":"root"}}}""");

        var result = await Kactl(null, "run", "--bundle", bundle);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().StartWith("kactl: invalid bundle: ").And.Contain(Path.Combine(bundle, "config.json")).And.Contain("$.process.user.uid");
    }

    [Fact]
    public async Task Run_reports_a_bad_bundle_rather_than_an_agent_it_cannot_reach()
    {
        // The connection is begun while config.json is parsed: the bundle's error must still be the one reported.
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "true");
        File.WriteAllText(Path.Combine(bundle, "config.json"), """{"root":{"path":"/r"},"process":{"args":[]}}""");

        var result = await KactlRunner.RunAsync(["--addr", $"unix://{directory.File("no-agent.sock")}", "run", "--bundle", bundle]);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().Be($"kactl: invalid bundle: {Path.Combine(bundle, "config.json")}: $.process.args is missing or empty: nothing to run\n");
    }

    [Fact]
    public async Task Run_reports_a_refused_create_as_an_rpc_failure()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "true");

        var result = await Kactl(null, "run", "--bundle", bundle, "--id", "bad/id");

        result.ExitCode.Should().Be(RpcFailed, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith("kactl: CreateContainer failed: InvalidArgument (3): container_id:");
    }

    [Fact]
    public async Task Run_reports_a_failed_start_and_still_removes_the_container()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "/bin/does-not-exist");

        var result = await Kactl(null, "run", "--bundle", bundle, "--id", "unstartable");

        result.ExitCode.Should().Be(RpcFailed, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith("kactl: StartContainer failed: ").And.Contain("does-not-exist");
        await ExpectGoneAsync("unstartable");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exec_runs_in_a_container_created_with_the_library_and_passes_the_exit_code(bool unary)
    {
        await using var container = await Container.CreateAsync(fixture.Client, fixture.NewId("target"), ContainerSpecs.Default(fixture.RootfsPath, ["sleep", "300"]));
        await container.StartAsync();

        var result = await Kactl("some input\n", ["exec", container.Id, "--exec-id", "probe", .. unary ? new[] { "--no-streaming" } : [], "--", "sh", "-c", "read x; echo got:$x; echo cwd:$(pwd) path:$PATH; cat /proc/1/cmdline | tr '\\0' ' '; echo oops >&2; exit 5"]);

        result.ExitCode.Should().Be(5, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("got:some input\ncwd:/ path:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nsleep 300 ");
        result.StandardError.Should().Be("oops\n");
        await container.RemoveAsync();
    }

    [Fact]
    public async Task Exec_takes_env_cwd_user_and_tty()
    {
        await using var container = await Container.CreateAsync(fixture.Client, fixture.NewId("target"), ContainerSpecs.Default(fixture.RootfsPath, ["sleep", "300"]));
        await container.StartAsync();

        var plain = await Kactl(null, "exec", container.Id, "-e", "GREETING=hi", "-w", "/tmp", "-u", "65534:65534", "--", "sh", "-c", "echo $GREETING $(pwd) $(id -u):$(id -g)");
        var tty = await Kactl(null, "exec", container.Id, "--tty", "--", "tty");

        plain.ExitCode.Should().Be(0, KactlRunner.Describe(plain));
        plain.StandardOutput.Should().Be("hi /tmp 65534:65534\n");
        tty.ExitCode.Should().Be(0, KactlRunner.Describe(tty));
        tty.StandardOutput.Should().MatchRegex(@"^/dev/pts/\d+\r\n$");
        await container.RemoveAsync();
    }

    [Fact]
    public async Task Exec_by_sandbox_id_finds_the_agent_socket_and_container_in_the_run_directory()
    {
        // A sandbox directory as kactl run -d leaves it, whose agent.sock leads to the stand-alone
        // agent instead of a VM's virtio-serial port: the same host-side unix socket either way.
        await using var container = await Container.CreateAsync(fixture.Client, fixture.NewId("sandboxed"), ContainerSpecs.Default(fixture.RootfsPath, ["sleep", "300"]));
        await container.StartAsync();
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "5a4db0c5", running: true, containerId: container.Id);
        File.CreateSymbolicLink(Path.Combine(sandbox.Directory, "agent.sock"), fixture.Agent.Address["unix://".Length..]);

        var result = await KactlRunner.RunAsync(["exec", "5a4d", "--", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 3"],
            environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = runDirectory.Path });

        result.ExitCode.Should().Be(3, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("sleep 300 ");
        await container.RemoveAsync();
    }

    [Fact]
    public async Task Exec_into_a_missing_container_is_an_rpc_failure()
    {
        var result = await Kactl(null, "exec", "no-such-container", "--", "true");

        result.ExitCode.Should().Be(RpcFailed, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith("kactl: ExecProcess failed: NotFound (5):");
    }

    [Fact]
    public async Task Sigterm_to_kactl_run_is_forwarded_to_the_container_and_the_container_is_removed()
    {
        using var directory = new TempDirectory();
        string bundle = Bundle(directory, false, "sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo started; while true; do sleep 0.1; done");

        var (exitCode, stdout, stderr) = await RunAndSignalAsync(["run", "--bundle", bundle, "--id", "trapper"], "started");

        exitCode.Should().Be(42, stderr);
        stdout.Should().Be("started\ngot TERM\n");
        await ExpectGoneAsync("trapper");
    }

    [Fact]
    public async Task A_container_that_ignores_sigterm_is_killed_after_the_stop_timeout()
    {
        using var directory = new TempDirectory();
        // As PID 1 without a handler, sh ignores SIGTERM.
        string bundle = Bundle(directory, false, "sh", "-c", "echo started; while true; do sleep 0.1; done");

        var (exitCode, stdout, stderr) = await RunAndSignalAsync(["run", "--bundle", bundle, "--id", "stubborn", "--stop-timeout", "1"], "started");

        exitCode.Should().Be(128 + 9, stderr);
        stdout.Should().Be("started\n");
        await ExpectGoneAsync("stubborn");
    }

    /// <summary>Starts kactl, waits for <paramref name="ready"/> on its stdout, sends it SIGTERM and waits for its exit.</summary>
    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAndSignalAsync(string[] arguments, string ready)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var task = Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(["--addr", fixture.Agent.Address, .. arguments])
            .WithEnvironmentVariables(env => env.Set("KATA_AGENT_ADDR", null))
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line =>
            {
                lock (stdout)
                {
                    stdout.Append(line).Append('\n');
                }
                if (line == ready)
                {
                    started.TrySetResult();
                }
            }))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(limit.Token);
        await Task.WhenAny(started.Task, task.Task).Unwrap().WaitAsync(TimeSpan.FromSeconds(30));
        started.Task.IsCompleted.Should().BeTrue($"kactl exited before '{ready}': {stderr}");
        Kill(task.ProcessId, 15).Should().Be(0);
        var result = await task;
        lock (stdout)
        {
            return (result.ExitCode, stdout.ToString(), stderr.ToString());
        }
    }

    private async Task ExpectGoneAsync(string containerId)
    {
        var wait = async () => await fixture.Client.WaitProcessAsync(new WaitProcessRequest { ContainerId = containerId });
        (await wait.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
