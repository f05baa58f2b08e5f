using System.Text.RegularExpressions;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Kactl.Sandboxes;
using KataAgent.Testing.Network;
using KataAgent.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// out/kactl booting real VMs (qemu, TCG without /dev/kvm) from out/vmlinuz, out/initrd.img and the default
/// rootfs out/rootfs, all made by ./build.sh; state in a scratch KACTL_RUN_DIR. One VM per test: the attached
/// run, and one detached sandbox that exec, logs, ps, console and rm share.
/// </summary>
public sealed class KactlVmTests(ITestOutputHelper output) : IDisposable
{
    // A boot under TCG on a loaded 2-core machine takes seconds to tens of seconds: a safety limit, not a measure.
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private readonly TempDirectory _runDirectory = new();

    public void Dispose() => _runDirectory.Dispose();

    [Fact]
    public async Task Run_boots_a_vm_runs_the_command_as_pid_1_of_its_container_and_passes_output_and_exit_code_through()
    {
        RequireGuestImage();

        var result = await Kactl(["run", "--memory", "512M", "--", "sh", "-c", "uname -r; echo pid $$; hostname; echo to-stderr >&2; exit 7"]);

        output.WriteLine(KactlRunner.Describe(result));
        result.ExitCode.Should().Be(7, KactlRunner.Describe(result));
        var lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(3, KactlRunner.Describe(result));
        lines[0].Should().EndWith("-cloud-amd64", "the guest runs Debian's cloud kernel").And.NotBe(HostKernel(), "not the host's kernel");
        lines[1].Should().Be("pid 1");
        var stderr = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        stderr.Should().ContainMatch("kactl: booting VM * (1 vCPU, 512 MiB)…")
            .And.Contain(line => Regex.IsMatch(line, @"^kactl: agent ready after \d+ ms \((KVM|TCG)\)$"))
            .And.Contain("kactl: container started")
            .And.Contain("to-stderr");
        Directory.EnumerateFileSystemEntries(_runDirectory.Path).Should().BeEmpty("an attached run leaves no state behind");
    }

    [Fact]
    public async Task Detached_sandbox_takes_exec_logs_ps_and_console_and_rm_leaves_no_qemu_sockets_or_state()
    {
        RequireGuestImage();
        var run = await Kactl(["run", "-d", "--", "sh", "-c", "echo started > /tmp/marker; exec sleep 100000"]);
        output.WriteLine(KactlRunner.Describe(run));
        run.ExitCode.Should().Be(0, KactlRunner.Describe(run));
        string id = run.StandardOutput.Trim();
        id.Should().MatchRegex("^[0-9a-f]{8}$");
        var entry = new RunDirectory(_runDirectory.Path).Find(id);
        int qemuPid = entry.Record!.QemuPid;
        try
        {
            entry.State.Should().Be(SandboxLiveness.Running);
            entry.Record.RootfsMode.Should().Be(KataAgent.Host.Sandboxes.RootfsMode.VirtioFs, "virtio-fs is kactl run's default");
            // vsock, the default: the agent, its log and the console are ports behind the backend's hybrid socket.
            File.Exists(Path.Combine(entry.Directory, "vsock.sock")).Should().BeTrue();
            entry.Addresses!.Agent.ToString().Should().Be($"hvsock://{entry.Directory}/vsock.sock:1024");
            entry.Addresses.DebugConsole!.ToString().Should().Be($"hvsock://{entry.Directory}/vsock.sock:1026");

            var ps = await Kactl(["ps"]);
            ps.StandardOutput.Should().MatchRegex($@"(?m)^{id}\s+{id}\s+running\s+\d+[sm]\s+sh -c 'echo started > /tmp/marker; exec sleep 100000'$");

            var exec = await Kactl(["exec", id, "--", "sh", "-c", "cat /tmp/marker; tr '\\0' ' ' < /proc/1/cmdline; exit 4"]);
            exec.ExitCode.Should().Be(4, KactlRunner.Describe(exec));
            exec.StandardOutput.Should().Be("started\nsleep 100000 ");

            var logs = await Kactl(["logs", id]);
            logs.ExitCode.Should().Be(0, KactlRunner.Describe(logs));
            logs.StandardOutput.Should().Contain($"container {id} created", "the agent logged the container kactl created");

            await using (var terminal = new PtyTerminal())
            {
                var console = terminal.Run(_runDirectory, "console", id);
                await terminal.WaitForOutputAsync("Ctrl-] detaches", console);
                // The arithmetic is done by the guest's shell: the typed text alone cannot contain the answer.
                terminal.Type("echo console-$((6 * 7))\r");
                await terminal.WaitForOutputAsync("console-42", console);
                terminal.Type("\x1d");
                var detached = await console.WaitAsync(Limit);
                detached.ExitCode.Should().Be(0, terminal.Output);
            }
        }
        finally
        {
            var rm = await Kactl(["rm", id]);
            output.WriteLine(KactlRunner.Describe(rm));
            rm.ExitCode.Should().Be(0, KactlRunner.Describe(rm));
            rm.StandardOutput.Should().Be(id + "\n");
        }

        ProcessState.IsRunning(qemuPid).Should().BeFalse("rm ends the VM");
        ProcessesNaming(entry.Directory).Should().BeEmpty("no qemu (or anything else) uses the sandbox's files any more");
        Directory.Exists(entry.Directory).Should().BeFalse("rm removes the sockets, logs and sandbox.json");
        (await Kactl(["ps", "-q"])).StandardOutput.Should().BeEmpty();
    }

    /// <summary>
    /// The point of vsock: an attached `kactl run` holds its connection to the agent for as long as its container
    /// runs, and exec, logs and console into the same sandbox still work meanwhile, each on a connection of its own.
    /// </summary>
    [Fact]
    public async Task Exec_logs_and_console_work_while_an_attached_run_holds_its_connection()
    {
        RequireGuestImage();
        const string Id = "attached0";
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runOutput = new System.Text.StringBuilder();
        using var safety = new CancellationTokenSource(Limit);
        var run = CliWrap.Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(["run", "--id", Id, "--", "sh", "-c", "echo ready; while [ ! -e /tmp/stop ]; do sleep 0.2; done; echo stopping; exit 9"])
            .WithEnvironmentVariables(env => env.Set("KACTL_RUN_DIR", _runDirectory.Path))
            .WithStandardOutputPipe(CliWrap.PipeTarget.ToDelegate(line =>
            {
                lock (runOutput)
                {
                    runOutput.Append(line).Append('\n');
                }
                if (line == "ready")
                {
                    ready.TrySetResult();
                }
            }))
            .WithStandardErrorPipe(CliWrap.PipeTarget.ToDelegate(output.WriteLine))
            .WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteAsync(safety.Token);

        await Task.WhenAny(ready.Task, run.Task).WaitAsync(Limit);
        ready.Task.IsCompleted.Should().BeTrue($"the attached run's container printed 'ready' (run ended: {run.Task.IsCompleted})");

        // The run holds its connection (it waits for its container) while these come and go.
        var exec = await Kactl(["exec", Id, "--", "sh", "-c", "echo exec-$((6 * 7)); ls /tmp; exit 5"]);
        exec.ExitCode.Should().Be(5, KactlRunner.Describe(exec));
        exec.StandardOutput.Should().Be("exec-42\n");
        var logs = await Kactl(["logs", Id]);
        logs.ExitCode.Should().Be(0, KactlRunner.Describe(logs));
        logs.StandardOutput.Should().Contain($"container {Id} created");
        await using (var terminal = new PtyTerminal())
        {
            var console = terminal.Run(_runDirectory, "console", Id);
            await terminal.WaitForOutputAsync("Ctrl-] detaches", console);
            terminal.Type("echo console-$((6 * 7))\r");
            await terminal.WaitForOutputAsync("console-42", console);
            terminal.Type("\x1d");
            (await console.WaitAsync(Limit)).ExitCode.Should().Be(0, terminal.Output);
        }
        run.Task.IsCompleted.Should().BeFalse("the attached run is still going");

        var stop = await Kactl(["exec", Id, "--", "touch", "/tmp/stop"]);
        stop.ExitCode.Should().Be(0, KactlRunner.Describe(stop));
        var result = await run.Task.WaitAsync(Limit);

        result.ExitCode.Should().Be(9, "the attached run ends with its container's status");
        runOutput.ToString().Should().Be("ready\nstopping\n");
        Directory.EnumerateFileSystemEntries(_runDirectory.Path).Should().BeEmpty("an attached run leaves no state behind");
        ProcessesNaming(Path.Combine(_runDirectory.Path, Id)).Should().BeEmpty();
    }

    [Fact]
    public async Task The_serial_channel_still_runs_a_container_end_to_end()
    {
        RequireGuestImage();

        var result = await Kactl(["run", "--agent-channel", "serial", "--", "sh", "-c", "echo over-serial; exit 6"]);

        result.ExitCode.Should().Be(6, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("over-serial\n");
        Directory.EnumerateFileSystemEntries(_runDirectory.Path).Should().BeEmpty();
    }

    [Fact]
    public async Task Run_shares_the_rootfs_over_virtio_fs_by_default_as_a_copy_on_write_view_that_never_writes_it()
    {
        RequireGuestImage();
        using var scratch = await BusyboxRootfs.CreateAsync();
        string rootfs = scratch.Path;
        File.WriteAllText(Path.Combine(rootfs, "etc", "marker"), "the user's\n");
        var before = Snapshot(rootfs);

        var result = await Kactl(["run", "--rootfs", rootfs, "--", "sh", "-c",
            "grep ' / ' /proc/mounts | cut -d' ' -f3; cat /etc/marker; echo changed > /etc/marker; echo new > /new-file; cat /etc/marker /new-file; rm /bin/true"]);

        output.WriteLine(KactlRunner.Describe(result));
        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Should().Be("virtiofs\nthe user's\nchanged\nnew\n");
        Snapshot(rootfs).Should().Equal(before, "--rootfs DIR is never written: the container wrote into the overlay's upper layer");
        Directory.EnumerateFileSystemEntries(_runDirectory.Path).Should().BeEmpty("the run leaves no state, overlay or mount behind");
        File.ReadAllLines("/proc/self/mountinfo").Should().NotContain(line => line.Contains(_runDirectory.Path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_detached_blk_run_is_recorded_as_blk_and_exec_and_rm_work_with_it()
    {
        RequireGuestImage();
        var run = await Kactl(["run", "-d", "--rootfs-mode", "blk", "--", "sleep", "100000"]);
        output.WriteLine(KactlRunner.Describe(run));
        run.ExitCode.Should().Be(0, KactlRunner.Describe(run));
        string id = run.StandardOutput.Trim();
        var entry = new RunDirectory(_runDirectory.Path).Find(id);
        try
        {
            entry.Record!.RootfsMode.Should().Be(KataAgent.Host.Sandboxes.RootfsMode.Blk);
            var exec = await Kactl(["exec", id, "--", "sh", "-c", "grep ' / ' /proc/mounts | cut -d' ' -f3"]);
            exec.ExitCode.Should().Be(0, KactlRunner.Describe(exec));
            exec.StandardOutput.Should().Be("ext4\n", "--rootfs-mode blk packs the rootfs into an ext4 disk");
            (await Kactl(["ps", "-q"])).StandardOutput.Should().Be(id + "\n");
        }
        finally
        {
            var rm = await Kactl(["rm", id]);
            rm.ExitCode.Should().Be(0, KactlRunner.Describe(rm));
        }
        Directory.Exists(entry.Directory).Should().BeFalse();
    }

    /// <summary>Every path below <paramref name="root"/> with its size or link target: what a write would change.</summary>
    private static List<string> Snapshot(string root) =>
        [.. new DirectoryInfo(root).EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
            .Select(i => $"{Path.GetRelativePath(root, i.FullName)} {(i.LinkTarget ?? (i is FileInfo f ? $"{f.Length}:{File.ReadAllText(f.FullName).GetHashCode(StringComparison.Ordinal)}" : "dir"))}")
            .Order(StringComparer.Ordinal)];

    [Fact]
    public async Task A_kernel_qemu_cannot_load_fails_the_run_with_exit_1_and_leaves_no_state()
    {
        RequireGuestImage();
        using var scratch = new TempDirectory();
        string notAKernel = scratch.File("vmlinuz");
        File.WriteAllText(notAKernel, "this is not a bzImage\n");

        var result = await Kactl(["run", "--kernel", notAKernel, "--", "true"]);

        result.ExitCode.Should().Be(1, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("kactl: the VM did not boot: ").And.Contain("kactl: the VM's last console lines:");
        result.StandardOutput.Should().BeEmpty();
        Directory.EnumerateFileSystemEntries(_runDirectory.Path).Should().BeEmpty("a failed boot leaves no state behind");
    }

    [Fact]
    public async Task Run_with_netns_gives_the_container_the_pod_interface_and_dns_and_leaves_the_netns_as_it_was()
    {
        RequireGuestImage();
        using var pod = new CniLikePodNetwork();
        string before = pod.Snapshot();

        var result = await Kactl(["run", "-q", "--netns", pod.PodPath, "--net", "tcfilter",
            "--dns", CniLikePodNetwork.NodeAddress, "--dns-search", "pod.test", "--dns-search", "test", "--", "sh", "-c",
            $"ip -o -4 addr show eth0 | tr -s ' ' | cut -d' ' -f4; ip route | grep ^default; ping -c 1 -W 10 {CniLikePodNetwork.NodeAddress} > /tmp/ping && echo pinged; cat /etc/resolv.conf"]);

        output.WriteLine(KactlRunner.Describe(result));
        result.ExitCode.Should().Be(0, KactlRunner.Describe(result));
        result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            $"{CniLikePodNetwork.PodAddress}/24",
            $"default via {CniLikePodNetwork.NodeAddress} dev eth0 ",
            "pinged",
            $"nameserver {CniLikePodNetwork.NodeAddress}",
            "search pod.test test");
        pod.DifferencesFrom(before).Should().BeEmpty("kactl's sandbox tears its tcfilter endpoint down");
    }

    /// <summary>
    /// A detached sandbox keeps its pod network while it runs (the node reaches the container's httpd at the pod
    /// IP, or through passt's forwarded port), and `kactl rm` restores the netns: through DestroySandbox (macvtap,
    /// the model that moves the most), and from the teardown journal when the VM was killed under it (passt,
    /// whose helper process must be stopped too).
    /// </summary>
    [Theory]
    [InlineData("macvtap", false)]
    [InlineData("passt", true)]
    public async Task Detached_run_with_netns_serves_at_the_pod_and_rm_restores_the_netns_also_after_the_vm_was_killed(string model, bool killFirst)
    {
        RequireGuestImage();
        using var pod = new CniLikePodNetwork();
        string before = pod.Snapshot();
        string[] publish = model == "passt" ? ["-p", "8080:80"] : [];
        var run = await Kactl(["run", "-d", "--netns", pod.PodPath, "--net", model, .. publish, "--", "sh", "-c",
            "echo pod-page > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]);
        output.WriteLine(KactlRunner.Describe(run));
        run.ExitCode.Should().Be(0, KactlRunner.Describe(run));
        string id = run.StandardOutput.Trim();
        var entry = new RunDirectory(_runDirectory.Path).Find(id);
        int qemuPid = entry.Record!.QemuPid;
        try
        {
            File.Exists(Path.Combine(entry.Directory, "network.json")).Should().BeTrue("the endpoint's teardown is journaled in the sandbox's directory");
            string url = $"http://{CniLikePodNetwork.PodAddress}:{(model == "passt" ? 8080 : 80)}/index.html";
            (await pod.FetchFromNodeAsync(url, Limit)).Should().Be("pod-page\n");
            pod.DifferencesFrom(before).Should().NotBeEmpty("the pod network stays wired while the detached VM runs");

            if (killFirst)
            {
                using (var qemu = System.Diagnostics.Process.GetProcessById(qemuPid))
                {
                    qemu.Kill();
                }
                (await ProcessState.ExitsWithinAsync(qemuPid, TimeSpan.FromSeconds(30))).Should().BeTrue("SIGKILL ends qemu");
                pod.DifferencesFrom(before).Should().NotBeEmpty("nothing restored the netns when the VM died");
            }
        }
        finally
        {
            var rm = await Kactl(["rm", id]);
            output.WriteLine(KactlRunner.Describe(rm));
            rm.ExitCode.Should().Be(0, KactlRunner.Describe(rm));
        }

        pod.DifferencesFrom(before).Should().BeEmpty("rm restores the pod netns");
        Directory.Exists(entry.Directory).Should().BeFalse();
        ProcessesNaming(entry.Directory).Should().BeEmpty();
        ProcessesNaming(pod.PodPath).Should().BeEmpty("no qemu or passt is left in the pod netns");
    }

    private Task<BufferedCommandResult> Kactl(IReadOnlyList<string> arguments) =>
        KactlRunner.RunAsync(arguments, environment: new Dictionary<string, string?> { ["KACTL_RUN_DIR"] = _runDirectory.Path }, limit: Limit);

    private static void RequireGuestImage()
    {
        foreach (string built in new[] { "vmlinuz", "initrd.img", "rootfs/bin/busybox" })
        {
            string path = Path.Combine(RepoPaths.Root, "out", built);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"{path} is missing: run ./build.sh first");
            }
        }
    }

    /// <summary>Live processes whose command line names <paramref name="path"/> (a zombie's is empty).</summary>
    private static List<string> ProcessesNaming(string path)
    {
        var found = new List<string>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(path, StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(directory)}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while we looked, or not a process directory.
            }
        }
        return found;
    }

    private static string HostKernel() => File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
}
