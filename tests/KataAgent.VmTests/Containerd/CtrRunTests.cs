using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Testing;
using KataAgent.Testing.Containerd;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Containerd;

/// <summary>
/// <c>ctr</c> against a private containerd with <c>--runtime io.containerd.kataagent.v2</c>: each task runs in a VM
/// of its own, started and torn down by out/containerd-shim-kataagent-v2. In the VM collection so that one VM boots
/// at a time.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class CtrRunTests(ShimContainerdFixture fixture) : IClassFixture<ShimContainerdFixture>
{
    private PrivateContainerd Containerd => fixture.Containerd;

    private static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task CtrRunRmGivesTheOutputAndExitCodeOfAContainerInAVmAndLeavesNothing()
    {
        var before = Containerd.CaptureFootprint();
        string id = NewId("run");

        var result = await Containerd.CtrAsync(["run", "--rm", "--runtime", PrivateContainerd.KataAgentRuntime, BusyboxOciImage.Reference, id,
            "sh", "-c", "echo out; head -1 /etc/passwd; echo err >&2; uname -r; exit 3"]);

        result.ExitCode.Should().Be(3, result.ToString());
        string[] lines = result.StandardOutput.Split('\n');
        lines[0].Should().Be("out");
        lines[1].Should().Be("root:x:0:0:root:/root:/bin/sh");
        // The guest's kernel, out/vmlinuz (whose header carries its version string), not the host's: it ran in a VM.
        lines[2].Should().NotBe(HostTools.Run("uname", "-r").Trim());
        Encoding.ASCII.GetString(await File.ReadAllBytesAsync(RepoPaths.Kernel)).Should().Contain(lines[2] + " (");
        result.StandardError.Should().Contain("err");
        (await Containerd.CtrAsync(["containers", "ls", "-q"])).StandardOutput.Should().NotContain(id);
        await ShimHost.WaitForShimGoneAsync(Containerd, Containerd.Namespace, id);
        before.Added(Containerd.CaptureFootprint()).Should().BeEmpty();
    }

    [Fact]
    public async Task CtrRunWithATerminalGivesTheContainerATtyOfTheClientsSizeAndTheExitCode()
    {
        string script = HostTools.Require("script", "bsdutils");
        string id = NewId("tty");
        string ctr = string.Join(' ', Containerd.CtrCommandLine(["run", "--rm", "-t", "--runtime", PrivateContainerd.KataAgentRuntime, BusyboxOciImage.Reference, id,
            "sh", "-c", "'tty; for i in $(seq 150); do stty size >/dev/null 2>&1 && break; sleep 0.2; done; stty size; exit 5'"]));

        // script gives ctr a pseudo-terminal; its size is set first, and ctr passes it on (ResizePty). ctr puts no
        // consoleSize in the spec and sends the first ResizePty only once Start has returned, so a process that asks
        // at once can find the terminal still 0x0 (busybox stty then fails): the container waits for the size (up
        // to 30 s) rather than racing ctr.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var result = await Cli.Wrap(script).WithArguments(["-qefc", "stty cols 91 rows 27; " + ctr, "/dev/null"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(timeout.Token);

        result.ExitCode.Should().Be(5, result.StandardOutput + result.StandardError);
        string output = result.StandardOutput.Replace("\r", "");
        output.Should().MatchRegex(@"/dev/pts/\d+\n");
        output.Should().Contain("27 91\n");
    }

    [Fact]
    public async Task ADetachedTaskIsListedExecsPausesResumesGivesMetricsAndEndsWithTheKillSignal()
    {
        await using var events = await CtrEventStream.StartAsync(Containerd);
        var before = Containerd.CaptureFootprint();
        string id = NewId("det");

        (await Containerd.CtrAsync(["run", "-d", "--runtime", PrivateContainerd.KataAgentRuntime, BusyboxOciImage.Reference, id, "sleep", "3600"]))
            .EnsureSuccess("ctr run -d");

        var listed = await ShimHost.TaskLineAsync(Containerd, id);
        listed.Should().NotBeNull();
        listed!.Value.Status.Should().Be("RUNNING");
        listed.Value.Pid.Should().BePositive();

        // An exec that exits at once: its output complete, its exit code ctr's.
        var exec = await Containerd.CtrAsync(["tasks", "exec", "--exec-id", "e1", id, "sh", "-c", "echo exec-out; cat /proc/1/cmdline; echo; exit 6"]);
        exec.ExitCode.Should().Be(6, exec.ToString());
        exec.StandardOutput.Should().Be("exec-out\nsleep\03600\0\n");
        // stdin through to the process, and closed at its end (cat exits only on EOF).
        var cat = await Containerd.CtrAsync(["tasks", "exec", "--exec-id", "e2", id, "cat"], standardInput: "through stdin\n");
        cat.EnsureSuccess("ctr tasks exec cat");
        cat.StandardOutput.Should().Be("through stdin\n");

        (await Containerd.CtrAsync(["tasks", "pause", id])).EnsureSuccess("ctr tasks pause");
        (await ShimHost.TaskLineAsync(Containerd, id))!.Value.Status.Should().Be("PAUSED");
        (await Containerd.CtrAsync(["tasks", "resume", id])).EnsureSuccess("ctr tasks resume");
        (await ShimHost.TaskLineAsync(Containerd, id))!.Value.Status.Should().Be("RUNNING");

        var metrics = (await Containerd.CtrAsync(["tasks", "metrics", id])).EnsureSuccess("ctr tasks metrics");
        // ctr prints the cgroup v2 table only when the Any is io.containerd.cgroups.v2.Metrics.
        metrics.StandardOutput.Should().Contain(id).And.MatchRegex(@"pids\.current\s+[1-9]").And.MatchRegex(@"memory\.usage\s+[1-9]");

        (await Containerd.CtrAsync(["tasks", "kill", "-s", "SIGKILL", id])).EnsureSuccess("ctr tasks kill");
        var exit = await events.WaitForAsync("/tasks/exit", e => e.GetProperty("container_id").GetString() == id && e.GetProperty("id").GetString() == id);
        exit.Payload.GetProperty("exit_status").GetInt32().Should().Be(137);
        (await ShimHost.TaskLineAsync(Containerd, id))!.Value.Status.Should().Be("STOPPED");
        var delete = (await Containerd.CtrAsync(["tasks", "delete", id])).EnsureSuccess("ctr tasks delete");
        delete.StandardError.Should().Contain("exit code 137");
        (await Containerd.CtrAsync(["containers", "delete", id])).EnsureSuccess("ctr containers delete");
        await events.WaitForAsync("/tasks/delete", e => e.GetProperty("container_id").GetString() == id);

        events.TopicsOf(id).Should().ContainInOrder(
            "/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started", "/tasks/exit",
            "/tasks/paused", "/tasks/resumed", "/tasks/exit", "/tasks/delete");
        await ShimHost.WaitForShimGoneAsync(Containerd, Containerd.Namespace, id);
        before.Added(Containerd.CaptureFootprint()).Should().BeEmpty();
    }

    [Fact]
    public async Task OutputWrittenJustBeforeTheProcessExitsArrivesWhole()
    {
        string id = NewId("io");

        // 4000 numbered lines, then a last line on each stream, and the process is gone at once.
        var result = await Containerd.CtrAsync(["run", "--rm", "--runtime", PrivateContainerd.KataAgentRuntime, BusyboxOciImage.Reference, id,
            "sh", "-c", "seq 1 4000; echo last-out; echo last-err >&2"]);

        result.EnsureSuccess("ctr run");
        var expected = new StringBuilder();
        for (int i = 1; i <= 4000; i++)
        {
            expected.Append(i).Append('\n');
        }
        expected.Append("last-out\n");
        result.StandardOutput.Should().Be(expected.ToString());
        result.StandardError.Should().EndWith("last-err\n");
    }

    [Fact]
    public async Task AContainerOverItsMemoryLimitIsOomKilledAndTheEventArrives()
    {
        await using var events = await CtrEventStream.StartAsync(Containerd);
        string id = NewId("oom");

        // dd's 64 MiB buffer does not fit a 32 MiB cgroup: the guest kernel's OOM killer ends it.
        var result = await Containerd.CtrAsync(["run", "--rm", "--runtime", PrivateContainerd.KataAgentRuntime, "--memory-limit", (32L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            BusyboxOciImage.Reference, id, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=4"]);

        result.ExitCode.Should().Be(137, result.ToString());
        await events.WaitForAsync("/tasks/oom", e => e.GetProperty("container_id").GetString() == id);
    }

    [Fact]
    public async Task CtrRunWithALogUriHandsTheOutputToALoggingBinaryOrAppendsItToAFile()
    {
        using var temp = new TempDirectory();
        // A logging binary as containerd documents them: output on fd 3 and 4, ready once fd 5 is closed, running until SIGTERM.
        string logger = temp.File("logger.sh");
        File.WriteAllText(logger, """
            #!/bin/sh
            dir="$2"
            printf '%s\n' "$@" > "$dir/args"
            env | sort > "$dir/env"
            trap 'echo term > "$dir/term"' TERM
            cat <&3 > "$dir/stdout" 5>&- &
            cat <&4 > "$dir/stderr" 5>&- &
            exec 5>&-
            while [ ! -e "$dir/term" ]; do sleep 0.05; done
            wait
            echo done > "$dir/done"

            """);
        File.SetUnixFileMode(logger, (UnixFileMode)0b111_101_101);
        string dir = temp.CreateDirectory("logged");
        string id = NewId("logb");

        var result = await Containerd.CtrAsync(["run", "--rm", "--runtime", PrivateContainerd.KataAgentRuntime, "--log-uri", $"binary://{logger}?dir={dir}",
            BusyboxOciImage.Reference, id, "sh", "-c", "echo to-out; echo to-err >&2; exit 4"]);

        result.ExitCode.Should().Be(4, result.ToString());
        result.StandardOutput.Should().BeEmpty("the output went to the logging binary");
        File.ReadAllText(Path.Combine(dir, "stdout")).Should().Be("to-out\n");
        File.ReadAllText(Path.Combine(dir, "stderr")).Should().Be("to-err\n");
        File.ReadAllText(Path.Combine(dir, "args")).Should().Be($"dir\n{dir}\n");
        File.ReadAllLines(Path.Combine(dir, "env")).Should().Contain([$"CONTAINER_ID={id}", $"CONTAINER_NAMESPACE={Containerd.Namespace}"]);
        File.ReadAllText(Path.Combine(dir, "done")).Should().Be("done\n", "the task's delete ended the logger with SIGTERM and waited for it");

        // file:// appends both streams to the one file.
        string log = temp.File("task.log");
        File.WriteAllText(log, "before\n");
        string fileId = NewId("logf");
        var logged = await Containerd.CtrAsync(["run", "--rm", "--runtime", PrivateContainerd.KataAgentRuntime, "--log-uri", $"file://{log}",
            BusyboxOciImage.Reference, fileId, "sh", "-c", "echo line-out; echo line-err >&2"]);

        logged.EnsureSuccess("ctr run --log-uri file://");
        logged.StandardOutput.Should().BeEmpty();
        File.ReadAllText(log).Should().StartWith("before\n").And.Contain("line-out\n").And.Contain("line-err\n").And.HaveLength("before\nline-out\nline-err\n".Length);
        await ShimHost.WaitForShimGoneAsync(Containerd, Containerd.Namespace, id);
        await ShimHost.WaitForShimGoneAsync(Containerd, Containerd.Namespace, fileId);
    }
}
