using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Kactl;
using KataAgent.Kactl.Sandboxes;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// ps, rm, logs and exec's sandbox lookup over a scratch run directory (KACTL_RUN_DIR) with
/// sandbox directories as kactl run -d leaves them; "running" ones have a fake qemu process.
/// </summary>
public sealed class KactlSandboxStateTests
{
    private const int Usage = 2;
    private const int Failed = 1;

    private static Task<CliWrap.Buffered.BufferedCommandResult> Kactl(TempDirectory runDirectory, params string[] arguments) =>
        KactlRunner.RunAsync(arguments, environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = runDirectory.Path });

    [Fact]
    public async Task Ps_of_an_empty_or_missing_run_directory_prints_only_the_header()
    {
        using var runDirectory = new TempDirectory();
        Directory.Delete(runDirectory.Path);

        var result = await Kactl(runDirectory, "ps");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("SANDBOX  CONTAINER  STATE  AGE  COMMAND\n");
    }

    [Fact]
    public async Task Ps_tells_running_from_stopped_by_the_qemu_process_and_lists_oldest_first()
    {
        using var runDirectory = new TempDirectory();
        await using var stopped = await FakeSandbox.CreateAsync(runDirectory, "5t0pped0", running: false, containerId: "5t0pped0", args: ["sh", "-c", "echo it's me"], createdAt: DateTimeOffset.UtcNow.AddHours(-3));
        await using var running = await FakeSandbox.CreateAsync(runDirectory, "ru22ing0", running: true, containerId: "ru22ing0", args: ["sleep", "100"]);
        Directory.CreateDirectory(runDirectory.File("half0000"));

        var table = await Kactl(runDirectory, "ps");
        var ids = await Kactl(runDirectory, "ps", "-q");

        table.ExitCode.Should().Be(0, KactlRunner.Describe(table));
        var lines = table.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(4);
        lines[0].Should().MatchRegex(@"^SANDBOX\s+CONTAINER\s+STATE\s+AGE\s+COMMAND$");
        lines[1].Should().MatchRegex(@"^5t0pped0\s+5t0pped0\s+stopped\s+3h\s+sh -c 'echo it'\\''s me'$");
        lines.Skip(2).Should().Contain(line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^ru22ing0\s+ru22ing0\s+running\s+\d+s\s+sleep 100$"));
        lines.Skip(2).Should().Contain(line => System.Text.RegularExpressions.Regex.IsMatch(line, @"^half0000\s+-\s+incomplete\s+\d+s\s+-$"));
        ids.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().BeEquivalentTo(["5t0pped0", "ru22ing0", "half0000"]);
    }

    [Fact]
    public async Task A_live_pid_that_is_not_the_sandboxs_qemu_counts_as_stopped()
    {
        using var runDirectory = new TempDirectory();
        // No vm.json: the pid comes from qemu.pid, which the test points at other processes.
        await using var other = await FakeSandbox.CreateAsync(runDirectory, "other000", running: true, vmState: false);
        await using var reused = await FakeSandbox.CreateAsync(runDirectory, "reused00", running: false, vmState: false);
        // Its recorded pid is alive, but it is another sandbox's qemu (as after pid reuse): not this one's.
        string record = Path.Combine(reused.Directory, "sandbox.json");
        File.WriteAllText(record, File.ReadAllText(record).Replace($"{1 << 30}", $"{other.Qemu!.ProcessId}"));

        string pidFile = Path.Combine(reused.Directory, "qemu.pid");
        File.WriteAllText(pidFile, $"{Environment.ProcessId}\n");
        QemuVm.IsRunningIn(reused.Directory).Should().BeFalse("the test host is not a qemu");
        File.WriteAllText(pidFile, $"{other.Qemu.ProcessId}\n");

        QemuVm.IsRunningIn(other.Directory).Should().BeTrue();
        QemuVm.IsRunningIn(reused.Directory).Should().BeFalse();
        var result = await Kactl(runDirectory, "ps");
        result.StandardOutput.Should().MatchRegex(@"(?m)^reused00\s+c1\s+stopped\s");
    }

    [Fact]
    public async Task Rm_of_a_stopped_sandbox_deletes_its_state_and_prints_its_id()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "deadbeef", running: false);
        File.WriteAllText(Path.Combine(sandbox.Directory, "agent.log"), "old lines\n");

        var result = await Kactl(runDirectory, "rm", "dead");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("deadbeef\n");
        Directory.Exists(sandbox.Directory).Should().BeFalse();
    }

    [Fact]
    public async Task Rm_force_kills_a_running_sandboxs_qemu_and_deletes_its_state()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "f0rce000", running: true);

        var result = await Kactl(runDirectory, "rm", "-f", "f0rce000");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("f0rce000\n");
        await sandbox.Qemu!.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Directory.Exists(sandbox.Directory).Should().BeFalse();
    }

    [Fact]
    public async Task Rm_without_force_kills_qemu_when_the_agent_does_not_answer()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "n0agent0", running: true);

        var result = await Kactl(runDirectory, "--timeout", "1", "rm", "n0agent0");

        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("kactl: warning: ").And.Contain("n0agent0").And.Contain("killing its VM");
        await sandbox.Qemu!.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Directory.Exists(sandbox.Directory).Should().BeFalse();
    }

    [Fact]
    public async Task Rm_reports_unknown_ambiguous_and_malformed_ids_and_still_removes_the_others()
    {
        using var runDirectory = new TempDirectory();
        await using var first = await FakeSandbox.CreateAsync(runDirectory, "abc00001", running: false);
        await using var second = await FakeSandbox.CreateAsync(runDirectory, "abc00002", running: false);
        await using var third = await FakeSandbox.CreateAsync(runDirectory, "f00d0003", running: false);

        var result = await Kactl(runDirectory, "rm", "nope", "abc", "../x", "f00d");

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("f00d0003\n");
        result.StandardError.Should().Contain($"kactl: no sandbox 'nope' in {runDirectory.Path} ('kactl ps' lists them)")
            .And.Contain("kactl: 'abc' is the start of several sandbox ids: abc00001, abc00002")
            .And.Contain("kactl: '../x' is not a sandbox id");
        Directory.Exists(first.Directory).Should().BeTrue();
        Directory.Exists(third.Directory).Should().BeFalse();
    }

    [Fact]
    public async Task Logs_prints_the_agent_log_and_follow_ends_with_the_vm()
    {
        using var runDirectory = new TempDirectory();
        await using var stopped = await FakeSandbox.CreateAsync(runDirectory, "10gs0000", running: false);
        string log = "level=info msg=\"agent started\"\nlevel=info msg=\"CreateSandbox\"\n";
        File.WriteAllText(Path.Combine(stopped.Directory, "agent.log"), log);

        var plain = await Kactl(runDirectory, "logs", "10gs");
        var followed = await Kactl(runDirectory, "logs", "-f", "10gs0000");

        plain.ExitCode.Should().Be(0, KactlRunner.Describe(plain));
        plain.StandardOutput.Should().Be(log);
        followed.ExitCode.Should().Be(0, KactlRunner.Describe(followed));
        followed.StandardOutput.Should().Be(log, "the VM is gone, so there is nothing more to wait for");
    }

    [Fact]
    public async Task Logs_follow_prints_lines_as_they_come_until_qemu_exits()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "f0110w00", running: true);
        string log = Path.Combine(sandbox.Directory, "agent.log");
        File.WriteAllText(log, "first\n");
        var output = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var follow = CliWrap.Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(["logs", "-f", sandbox.Id])
            .WithEnvironmentVariables(env => env.Set("KACTL_RUN_DIR", runDirectory.Path))
            .WithStandardOutputPipe(CliWrap.PipeTarget.ToDelegate(line =>
            {
                lock (output)
                {
                    output.Append(line).Append('\n');
                    if (line == "second")
                    {
                        seen.TrySetResult();
                    }
                }
            }))
            .WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteAsync();

        File.AppendAllText(log, "second\n");
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        File.AppendAllText(log, "third\n");
        await sandbox.Qemu!.DisposeAsync();
        var result = await follow.Task.WaitAsync(TimeSpan.FromSeconds(30));

        result.ExitCode.Should().Be(0);
        output.ToString().Should().Be("first\nsecond\nthird\n");
    }

    [Fact]
    public async Task Logs_without_a_log_file_is_an_error_naming_it()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "n0l0g000", running: false);

        var result = await Kactl(runDirectory, "logs", "n0l0g000");

        result.ExitCode.Should().Be(Failed, KactlRunner.Describe(result));
        result.StandardError.Should().Be($"kactl: sandbox 'n0l0g000' has no agent log ({Path.Combine(sandbox.Directory, "agent.log")} does not exist)\n");
    }

    [Fact]
    public async Task Exec_and_console_refuse_a_stopped_sandbox_and_say_how_to_clean_it_up()
    {
        using var runDirectory = new TempDirectory();
        await using var sandbox = await FakeSandbox.CreateAsync(runDirectory, "900e0000", running: false);

        var exec = await Kactl(runDirectory, "exec", "900e", "--", "true");
        var console = await Kactl(runDirectory, "console", "900e");

        foreach (var result in new[] { exec, console })
        {
            result.ExitCode.Should().Be(Failed, KactlRunner.Describe(result));
            result.StandardError.Should().StartWith("kactl: sandbox '900e0000' is stopped: its VM (qemu pid").And.Contain("'kactl rm 900e0000' removes what is left");
        }
    }

    [Fact]
    public async Task Exec_of_an_unknown_sandbox_points_to_ps_and_to_addr()
    {
        using var runDirectory = new TempDirectory();

        var result = await Kactl(runDirectory, "exec", "c0ffee", "--", "true");

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardError.Should().Be($"kactl: no sandbox 'c0ffee' in {runDirectory.Path} ('kactl ps' lists them); for a container on an agent that already runs, pass --addr ADDR\n");
    }

    [Fact]
    public void Run_directory_makes_short_unique_ids_in_private_directories()
    {
        using var runDirectory = new TempDirectory();
        var store = new RunDirectory(runDirectory.File("run"));

        var ids = Enumerable.Range(0, 50).Select(_ => store.CreateSandboxDirectory()).ToList();

        ids.Should().OnlyHaveUniqueItems().And.AllSatisfy(id => id.Should().MatchRegex("^[0-9a-f]{8}$"));
        File.GetUnixFileMode(store.SandboxDirectory(ids[0])).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        store.List().Select(entry => entry.State).Should().AllBeEquivalentTo(SandboxLiveness.Incomplete);
    }

    [Fact]
    public void Run_directory_saves_and_reads_back_the_record()
    {
        using var runDirectory = new TempDirectory();
        var store = new RunDirectory(runDirectory.Path);
        string id = store.CreateSandboxDirectory();
        var record = new RunRecord { Id = id, ContainerId = id, CreatedAt = DateTimeOffset.Parse("2026-11-22T10:00:00Z"), QemuPid = 1 << 30, Args = ["echo", "a b"] };

        store.Save(record);

        var entry = store.Find(id);
        entry.Record.Should().BeEquivalentTo(record);
        entry.State.Should().Be(SandboxLiveness.Stopped);
        File.ReadAllText(Path.Combine(entry.Directory, "sandbox.json")).Should().Contain("\"containerId\"").And.Contain("\"qemuPid\"").And.Contain("\"createdAt\"");
    }

    [Theory]
    [InlineData(5, "5s")]
    [InlineData(59, "59s")]
    [InlineData(60, "1m")]
    [InlineData(3599, "59m")]
    [InlineData(3600, "1h")]
    [InlineData(47 * 3600, "47h")]
    [InlineData(48 * 3600, "2d")]
    [InlineData(-3, "0s")]
    public void Ages_are_coarse(int seconds, string age)
    {
        PsCommand.Age(TimeSpan.FromSeconds(seconds)).Should().Be(age);
    }
}
