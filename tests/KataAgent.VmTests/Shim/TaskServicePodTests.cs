using System.Text;
using System.Text.Json.Nodes;
using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataAgent.Protocols.Containerd.Task;
using Status = KataAgent.Protocols.Containerd.Types.Status;
using KataAgent.Shim.Tasks;
using Xunit;
using Metrics = KataAgent.Protocols.Containerd.CgroupsV2.Metrics;

namespace KataAgent.VmTests.Shim;

/// <summary>
/// The task service end to end with a real VM, driven over ttrpc as containerd drives it: a pod's sandbox (the VM)
/// and containers in it, each test its own containers (rootfs: out/rootfs bound as a snapshotter would), stdio over
/// FIFOs made as a containerd client makes them.
/// </summary>
[Collection(ShimVmCollection.Name)]
public sealed class TaskServicePodTests(PodFixture pod) : IClassFixture<PodFixture>
{
    private ShimHarness Shim => pod.Shim;

    [Fact]
    public async Task A_container_s_output_exit_code_and_events_come_in_containerd_s_order_and_Wait_works_before_Start()
    {
        var run = await CreateAsync("out1", ["sh", "-c", "echo to stdout; echo to stderr >&2; exit 3"]);
        run.Pid.Should().Be(pod.QemuPid, "every task's pid is qemu's, as Kata reports it");
        var wait = Shim.CallAsync("Wait", new WaitRequest { Id = "out1" }, WaitResponse.Parser);
        var state = await Shim.CallAsync("State", new StateRequest { Id = "out1" }, StateResponse.Parser);
        state.Status.Should().Be(Status.Created);
        state.Stdout.Should().Be(run.Stdout);

        await Shim.CallAsync("Start", new StartRequest { Id = "out1" }, StartResponse.Parser);
        var exit = await wait;

        exit.ExitStatus.Should().Be(3u);
        (await run.Output).Should().Be("to stdout\n", "the output written just before the exit is there, and the FIFO ended");
        (await run.Errors).Should().Be("to stderr\n");
        (await Shim.CallAsync("State", new StateRequest { Id = "out1" }, StateResponse.Parser)).Should().Match<StateResponse>(s => s.Status == Status.Stopped && s.ExitStatus == 3);
        var deleted = await Shim.CallAsync("Delete", new DeleteRequest { Id = "out1" }, DeleteResponse.Parser);
        deleted.ExitStatus.Should().Be(3u);
        Shim.Events.About("out1").Should().Equal("create", "start", "exit out1:3", "delete");
        Directory.EnumerateFileSystemEntries(Path.Combine(run.Bundle, "rootfs")).Should().BeEmpty("the rootfs was unmounted on Delete");
        File.Exists(Path.Combine(run.Bundle, BundleState.FileName)).Should().BeFalse();
        var again = () => Shim.CallAsync("State", new StateRequest { Id = "out1" }, StateResponse.Parser);
        (await again.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }

    [Fact]
    public async Task An_exec_reads_stdin_until_CloseIO_and_its_events_follow_exec_added_and_exec_started()
    {
        await CreateAsync("ex1", ["sleep", "1000"]);
        await Shim.CallAsync("Start", new StartRequest { Id = "ex1" }, StartResponse.Parser);
        var (stdin, stdout, stderr) = Shim.Fifos("ex1-e1");
        var output = ShimHarness.ReadFifoAsync(stdout);
        var errors = ShimHarness.ReadFifoAsync(stderr);
        var exec = ExecRequest("ex1", "e1", ["sh", "-c", "cat; echo done"], stdin, stdout, stderr);
        await Shim.CallAsync("Exec", exec);
        var duplicate = () => Shim.CallAsync("Exec", exec);
        (await duplicate.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.AlreadyExists);
        var wait = Shim.CallAsync("Wait", new WaitRequest { Id = "ex1", ExecId = "e1" }, WaitResponse.Parser);

        await Shim.CallAsync("Start", new StartRequest { Id = "ex1", ExecId = "e1" }, StartResponse.Parser);
        await using (var writer = await Task.Run(() => new FileStream(stdin, FileMode.Open, FileAccess.Write)))
        {
            await writer.WriteAsync("hello through the FIFO\n"u8.ToArray());
            await writer.FlushAsync();
            // As ctr does: CloseIO while its end of the FIFO is still open.
            await Shim.CallAsync("CloseIO", new CloseIORequest { Id = "ex1", ExecId = "e1", Stdin = true });
        }

        (await wait).ExitStatus.Should().Be(0u);
        (await output).Should().Be("hello through the FIFO\ndone\n");
        (await errors).Should().BeEmpty();
        await Shim.CallAsync("Delete", new DeleteRequest { Id = "ex1", ExecId = "e1" }, DeleteResponse.Parser);
        await KillAndDeleteAsync("ex1");
        Shim.Events.About("ex1").Should().Equal("create", "start", "exec-added e1", "exec-started e1", "exit e1:0", "exit ex1:137", "delete");
    }

    [Fact]
    public async Task A_CloseIO_that_comes_before_Start_closes_the_exec_s_stdin_once_it_runs()
    {
        await CreateAsync("ex2", ["sleep", "1000"]);
        await Shim.CallAsync("Start", new StartRequest { Id = "ex2" }, StartResponse.Parser);
        var (stdin, stdout, stderr) = Shim.Fifos("ex2-e1");
        var output = ShimHarness.ReadFifoAsync(stdout);
        var errors = ShimHarness.ReadFifoAsync(stderr);
        await Shim.CallAsync("Exec", ExecRequest("ex2", "e1", ["sh", "-c", "cat; echo eof"], stdin, stdout, stderr));
        var wait = Shim.CallAsync("Wait", new WaitRequest { Id = "ex2", ExecId = "e1" }, WaitResponse.Parser);

        // What a fast client's short stdin gives: its CloseIO ahead of (or racing) Start. No writer ever comes.
        await Shim.CallAsync("CloseIO", new CloseIORequest { Id = "ex2", ExecId = "e1", Stdin = true });
        await Shim.CallAsync("Start", new StartRequest { Id = "ex2", ExecId = "e1" }, StartResponse.Parser);

        (await wait.WaitAsync(TimeSpan.FromMinutes(2))).ExitStatus.Should().Be(0u);
        (await output).Should().Be("eof\n");
        (await errors).Should().BeEmpty();
        await Shim.CallAsync("Delete", new DeleteRequest { Id = "ex2", ExecId = "e1" }, DeleteResponse.Parser);
        await KillAndDeleteAsync("ex2");
    }

    [Fact]
    public async Task Kill_ends_the_container_and_a_process_that_has_exited_takes_only_SIGKILL_and_SIGTERM()
    {
        await CreateAsync("k1", ["sleep", "1000"]);
        await Shim.CallAsync("Start", new StartRequest { Id = "k1" }, StartResponse.Parser);

        await Shim.CallAsync("Kill", new KillRequest { Id = "k1", Signal = 9 });

        (await Shim.CallAsync("Wait", new WaitRequest { Id = "k1" }, WaitResponse.Parser)).ExitStatus.Should().Be(137u);
        await Shim.CallAsync("Kill", new KillRequest { Id = "k1", Signal = 9, All = true });
        await Shim.CallAsync("Kill", new KillRequest { Id = "k1", Signal = 15 });
        var hangup = () => Shim.CallAsync("Kill", new KillRequest { Id = "k1", Signal = 1 });
        (await hangup.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        await Shim.CallAsync("Delete", new DeleteRequest { Id = "k1" }, DeleteResponse.Parser);
    }

    [Fact]
    public async Task Pause_freezes_and_Resume_thaws_with_their_events()
    {
        await CreateAsync("p1", ["sleep", "1000"]);
        await Shim.CallAsync("Start", new StartRequest { Id = "p1" }, StartResponse.Parser);

        await Shim.CallAsync("Pause", new PauseRequest { Id = "p1" });
        (await Shim.CallAsync("State", new StateRequest { Id = "p1" }, StateResponse.Parser)).Status.Should().Be(Status.Paused);
        var twice = () => Shim.CallAsync("Pause", new PauseRequest { Id = "p1" });
        (await twice.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        await Shim.CallAsync("Resume", new ResumeRequest { Id = "p1" });

        (await Shim.CallAsync("State", new StateRequest { Id = "p1" }, StateResponse.Parser)).Status.Should().Be(Status.Running);
        await KillAndDeleteAsync("p1");
        Shim.Events.About("p1").Should().Equal("create", "start", "paused", "resumed", "exit p1:137", "delete");
    }

    [Fact]
    public async Task Stats_are_cgroup_v2_metrics_and_Update_changes_the_limits_the_container_sees()
    {
        var config = ShimHarness.Config(["sleep", "1000"], PodFixture.ContainerAnnotations);
        config["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 134217728 } };
        await CreateAsync("s1", config);
        await Shim.CallAsync("Start", new StartRequest { Id = "s1" }, StartResponse.Parser);

        var stats = await Shim.CallAsync("Stats", new StatsRequest { Id = "s1" }, StatsResponse.Parser);

        stats.Stats.TypeUrl.Should().Be("io.containerd.cgroups.v2.Metrics");
        var metrics = Metrics.Parser.ParseFrom(stats.Stats.Value);
        metrics.Memory.Usage.Should().BeGreaterThan(0);
        metrics.Pids.Current.Should().BeGreaterThanOrEqualTo(1);
        (await ExecOutputAsync("s1", "before", "cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max")).Should().Be("134217728\n");

        await Shim.CallAsync("Update", new UpdateTaskRequest
        {
            Id = "s1",
            Resources = new Any
            {
                TypeUrl = TaskService.ResourcesTypeUrl,
                Value = ByteString.CopyFromUtf8("""{"memory":{"limit":314572800},"cpu":{"quota":150000,"period":100000}}"""),
            },
        });

        (await ExecOutputAsync("s1", "after", "cd /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup) && cat memory.max cpu.max")).Should().Be("314572800\n150000 100000\n");
        var badType = () => Shim.CallAsync("Update", new UpdateTaskRequest { Id = "s1", Resources = new Any { TypeUrl = "x", Value = ByteString.CopyFromUtf8("{}") } });
        (await badType.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
        await KillAndDeleteAsync("s1");
    }

    [Fact]
    public async Task The_sandbox_s_stats_are_the_whole_VM_s()
    {
        var stats = await Shim.CallAsync("Stats", new StatsRequest { Id = PodFixture.SandboxId }, StatsResponse.Parser);

        stats.Stats.TypeUrl.Should().Be("io.containerd.cgroups.v2.Metrics");
        var metrics = Metrics.Parser.ParseFrom(stats.Stats.Value);
        metrics.Cpu.UsageUsec.Should().BeGreaterThan(0, "the guest's root cgroup counts all of its CPU time");
        metrics.Memory.UsageLimit.Should().BeGreaterThan(0, "the guest's memory is the pod's limit");
        metrics.Memory.Usage.Should().BeInRange(1, metrics.Memory.UsageLimit);
        metrics.Pids.Current.Should().BeGreaterThan(1, "the agent and the kernel's threads at least");
    }

    [Fact]
    public async Task An_OOM_kill_is_an_event_and_for_a_CRI_O_container_an_oom_file_in_its_bundle()
    {
        // containerd's annotations group it into this pod; CRI-O's container type marks it as CRI-O's.
        var annotations = PodFixture.ContainerAnnotations;
        annotations[PodGrouping.CriOContainerType] = "container";
        var config = ShimHarness.Config(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=2"], annotations);
        config["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 33554432 } };
        var run = await CreateAsync("oom1", config);
        File.Exists(Path.Combine(run.Bundle, "oom")).Should().BeFalse();

        await Shim.CallAsync("Start", new StartRequest { Id = "oom1" }, StartResponse.Parser);

        (await Shim.CallAsync("Wait", new WaitRequest { Id = "oom1" }, WaitResponse.Parser)).ExitStatus.Should().Be(137u);
        (await Shim.Events.WaitForAsync("oom1", e => e.Contains("oom"), TimeSpan.FromSeconds(60))).Should().Contain("oom");
        File.Exists(Path.Combine(run.Bundle, "oom")).Should().BeTrue("CRI-O reads the OOM kill from the bundle");
        await Shim.CallAsync("Delete", new DeleteRequest { Id = "oom1" }, DeleteResponse.Parser);
    }

    [Fact]
    public async Task Two_containers_of_the_pod_run_in_its_one_VM_and_share_its_hostname_through_CRI_s_namespace_paths()
    {
        string[] ids = ["two-a", "two-b"];
        var runs = new List<Run>();
        foreach (string id in ids)
        {
            var config = ShimHarness.Config(["hostname"], PodFixture.ContainerAnnotations, hostname: "ignored");
            // As containerd's CRI writes them: the sandbox task's namespaces by /proc path.
            config["linux"]!["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid" },
                new JsonObject { ["type"] = "ipc", ["path"] = $"/proc/{pod.QemuPid}/ns/ipc" },
                new JsonObject { ["type"] = "uts", ["path"] = $"/proc/{pod.QemuPid}/ns/uts" },
                new JsonObject { ["type"] = "mount" });
            runs.Add(await CreateAsync(id, config));
        }
        foreach (string id in ids)
        {
            (await Shim.CallAsync("State", new StateRequest { Id = id }, StateResponse.Parser)).Pid.Should().Be(pod.QemuPid);
            await Shim.CallAsync("Start", new StartRequest { Id = id }, StartResponse.Parser);
        }

        foreach (var (id, run) in ids.Zip(runs))
        {
            (await Shim.CallAsync("Wait", new WaitRequest { Id = id }, WaitResponse.Parser)).ExitStatus.Should().Be(0u);
            (await run.Output).Should().Be(PodFixture.PodHostname + "\n");
            await Shim.CallAsync("Delete", new DeleteRequest { Id = id }, DeleteResponse.Parser);
        }
        (await Shim.CallAsync("Pids", new PidsRequest { Id = PodFixture.SandboxId }, PidsResponse.Parser)).Processes.Select(p => p.Pid).Should().Equal(pod.QemuPid);
    }

    [Fact]
    public async Task Checkpoint_of_a_pod_with_the_default_devices_or_of_one_container_is_unimplemented_with_the_reason()
    {
        string path = Shim.Temp.CreateDirectory("cp-refused");
        var pod = () => Shim.CallAsync("Checkpoint", new CheckpointTaskRequest { Id = PodFixture.SandboxId, Path = path });

        var refused = (await pod.Should().ThrowAsync<RpcException>()).Which;

        refused.StatusCode.Should().Be(StatusCode.Unimplemented);
        refused.Status.Detail.Should().Contain($"pod {PodFixture.SandboxId} cannot be checkpointed").And.Contain("vhost-user-fs-pci \"kataShared\"")
            .And.Contain("\"rootfsMode\": \"blk\"").And.Contain(Shim.ConfigPath);
        if (!File.Exists("/dev/vhost-vsock"))
        {
            refused.Status.Detail.Should().Contain("vhost-user-vsock-pci").And.Contain("\"agentChannel\": \"serial\"");
        }
        Directory.EnumerateFileSystemEntries(path).Should().BeEmpty("nothing was written");
        (await Shim.CallAsync("State", new StateRequest { Id = PodFixture.SandboxId }, StateResponse.Parser)).Status.Should().Be(Status.Running, "the pod was not touched");

        await CreateAsync("cp1", ["sleep", "1000"]);
        await Shim.CallAsync("Start", new StartRequest { Id = "cp1" }, StartResponse.Parser);
        var container = () => Shim.CallAsync("Checkpoint", new CheckpointTaskRequest { Id = "cp1", Path = path });
        var alone = (await container.Should().ThrowAsync<RpcException>()).Which;
        alone.StatusCode.Should().Be(StatusCode.Unimplemented);
        alone.Status.Detail.Should().Contain("a container in a VM cannot be checkpointed alone").And.Contain($"sandbox task {PodFixture.SandboxId}");
        Shim.Events.About(PodFixture.SandboxId).Should().NotContain(e => e.StartsWith("checkpointed", StringComparison.Ordinal));
        await KillAndDeleteAsync("cp1");
    }

    private sealed record Run(string Bundle, uint Pid, string Stdout, Task<string> Output, Task<string> Errors);

    private Task<Run> CreateAsync(string id, IEnumerable<string> args) => CreateAsync(id, ShimHarness.Config(args, PodFixture.ContainerAnnotations));

    private async Task<Run> CreateAsync(string id, JsonObject config)
    {
        string bundle = Shim.Bundle(id, config);
        var (_, stdout, stderr) = Shim.Fifos(id);
        var output = ShimHarness.ReadFifoAsync(stdout);
        var errors = ShimHarness.ReadFifoAsync(stderr);
        var created = await Shim.CallAsync("Create", new CreateTaskRequest
        {
            Id = id,
            Bundle = bundle,
            Rootfs = { ShimHarness.RootfsMount() },
            Stdout = stdout,
            Stderr = stderr,
            Options = Shim.RuntimeOptions,
        }, CreateTaskResponse.Parser);
        return new Run(bundle, created.Pid, stdout, output, errors);
    }

    private static ExecProcessRequest ExecRequest(string id, string execId, string[] args, string stdin, string stdout, string stderr)
    {
        var process = new JsonObject
        {
            ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]),
            ["env"] = new JsonArray("PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
            ["cwd"] = "/",
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
        };
        return new ExecProcessRequest
        {
            Id = id,
            ExecId = execId,
            Stdin = stdin,
            Stdout = stdout,
            Stderr = stderr,
            Spec = new Any { TypeUrl = TaskService.ProcessSpecTypeUrl, Value = ByteString.CopyFromUtf8(process.ToJsonString()) },
        };
    }

    /// <summary>Runs a shell command as an exec in <paramref name="id"/> and returns its stdout (its exit must be 0).</summary>
    private async Task<string> ExecOutputAsync(string id, string execId, string command)
    {
        var (_, stdout, stderr) = Shim.Fifos(id + "-" + execId);
        var output = ShimHarness.ReadFifoAsync(stdout);
        var errors = ShimHarness.ReadFifoAsync(stderr);
        await Shim.CallAsync("Exec", ExecRequest(id, execId, ["sh", "-c", command], "", stdout, stderr));
        await Shim.CallAsync("Start", new StartRequest { Id = id, ExecId = execId }, StartResponse.Parser);
        var exit = await Shim.CallAsync("Wait", new WaitRequest { Id = id, ExecId = execId }, WaitResponse.Parser);
        exit.ExitStatus.Should().Be(0u, await errors);
        await Shim.CallAsync("Delete", new DeleteRequest { Id = id, ExecId = execId }, DeleteResponse.Parser);
        return await output;
    }

    private async Task KillAndDeleteAsync(string id)
    {
        await Shim.CallAsync("Kill", new KillRequest { Id = id, Signal = 9, All = true });
        (await Shim.CallAsync("Wait", new WaitRequest { Id = id }, WaitResponse.Parser)).ExitStatus.Should().Be(137u);
        await Shim.CallAsync("Delete", new DeleteRequest { Id = id }, DeleteResponse.Parser);
    }
}
