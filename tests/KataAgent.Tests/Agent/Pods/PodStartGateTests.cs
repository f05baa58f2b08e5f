using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>
/// The start gate: run in the guest before any container starts; until it passes no container of the pod starts,
/// through StartPod or Kata's StartContainer; its outcome is reported and a failed gate runs again.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class PodStartGateTests
{
    [Fact]
    public async Task A_failing_gate_keeps_every_container_from_starting_whoever_asks_and_runs_again_until_it_passes()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        using var flags = new TempDirectory();
        string ok = flags.File("attested");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await using var ttrpc = await agent.ConnectAsync(new AgentClientOptions { Protocol = AgentProtocol.Ttrpc, ConnectTimeout = TimeSpan.FromSeconds(20) });
        var pods = PodRequests.Client(client.CallInvoker);
        string podId = PodRequests.NewId();
        var request = PodRequests.Create(podId, rootfs.Path, ("web", ["sleep", "300"]), ("side", ["sleep", "300"]));
        // The guest's root here is the host's: /bin/sh of the machine running the agent.
        request.StartGate = new StartGate
        {
            Args = { "/bin/sh", "-c", "echo attesting $WHO; echo no evidence >&2; test -e \"$FLAG\"" },
            Env = { "WHO=tee", $"FLAG={ok}" },
        };
        await pods.CreatePodAsync(request);
        (await pods.GetPodAsync(new GetPodRequest { PodId = podId })).Gate.State.Should().Be(GateStatus.Types.State.Pending);

        var failed = await PodRequests.FailureOf(() => pods.StartPodAsync(new StartPodRequest { PodId = podId }).ResponseAsync);
        failed.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        failed.Status.Detail.Should().StartWith("start_gate:").And.Contain("(exit 1)").And.Contain("attesting tee");
        var status = await pods.GetPodAsync(new GetPodRequest { PodId = podId });
        status.Gate.State.Should().Be(GateStatus.Types.State.Failed);
        status.Gate.ExitCode.Should().Be(1);
        status.Gate.Reason.Should().Be("exit 1");
        status.Gate.Output.ToStringUtf8().Should().Contain("attesting tee\n").And.Contain("no evidence\n");
        status.Containers.Select(c => c.State).Should().OnlyContain(s => s == PodContainerStatus.Types.State.Created);

        // Kata's per-container RPCs cannot go around it, over either protocol.
        foreach (var kata in new[] { client, ttrpc })
        {
            var start = async () => await kata.StartContainerAsync(new StartContainerRequest { ContainerId = $"{podId}-web" });
            var refused = (await start.Should().ThrowAsync<AgentStatusException>()).Which;
            refused.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
            refused.Detail.Should().Contain("start gate").And.Contain(podId);
        }
        // No process can run in a container that has not started: exec into it is refused too.
        var exec = async () => await client.ExecProcessAsync(new ExecProcessRequest { ContainerId = $"{podId}-web", ExecId = "sneak", Process = new Process { Args = { "/bin/true" }, Cwd = "/" } });
        (await exec.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.FailedPrecondition);
        (await pods.GetPodAsync(new GetPodRequest { PodId = podId })).Containers.Select(c => c.State).Should().OnlyContain(s => s == PodContainerStatus.Types.State.Created);

        // The next StartPod runs the gate again; now it passes and the containers start in order.
        await File.WriteAllTextAsync(ok, "");
        var started = await pods.StartPodAsync(new StartPodRequest { PodId = podId });
        started.Gate.State.Should().Be(GateStatus.Types.State.Passed);
        started.Gate.ExitCode.Should().Be(0);
        started.Gate.Output.ToStringUtf8().Should().Contain("attesting tee");
        var running = await pods.GetPodAsync(new GetPodRequest { PodId = podId });
        running.Gate.State.Should().Be(GateStatus.Types.State.Passed);
        running.Containers.Select(c => c.State).Should().OnlyContain(s => s == PodContainerStatus.Types.State.Running);
        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId });
    }

    [Fact]
    public async Task A_gate_in_a_containers_root_runs_there_and_one_that_cannot_run_or_times_out_fails_with_the_reason()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        await File.WriteAllTextAsync(Path.Combine(rootfs.Path, "gate-evidence"), "from the image\n");
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var pods = PodRequests.Client(client.CallInvoker);

        string podId = PodRequests.NewId();
        var request = PodRequests.Create(podId, rootfs.Path, ("web", ["sleep", "300"]));
        request.StartGate = new StartGate { Args = { "/bin/sh", "-c", "cat /gate-evidence; echo pid $$" }, Container = "web" };
        await pods.CreatePodAsync(request);
        var started = await pods.StartPodAsync(new StartPodRequest { PodId = podId });
        started.Gate.State.Should().Be(GateStatus.Types.State.Passed, started.Gate.ToString());
        // /gate-evidence exists only in the container's rootfs; the gate shares its PID namespace, whose init is pid 1.
        started.Gate.Output.ToStringUtf8().Should().StartWith("from the image\npid ").And.NotContain("pid 1\n");
        (await pods.GetPodAsync(new GetPodRequest { PodId = podId })).Containers[0].State.Should().Be(PodContainerStatus.Types.State.Running);
        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId, GraceSeconds = 5 });

        podId = PodRequests.NewId();
        request = PodRequests.Create(podId, rootfs.Path, ("web", ["sleep", "300"]));
        request.StartGate = new StartGate { Args = { "/no/such/attester" } };
        await pods.CreatePodAsync(request);
        var missing = await PodRequests.FailureOf(() => pods.StartPodAsync(new StartPodRequest { PodId = podId }).ResponseAsync);
        missing.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        var gate = (await pods.GetPodAsync(new GetPodRequest { PodId = podId })).Gate;
        gate.State.Should().Be(GateStatus.Types.State.Failed);
        gate.ExitCode.Should().Be(-1);
        gate.Reason.Should().Be("/no/such/attester: not found");
        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId });

        podId = PodRequests.NewId();
        request = PodRequests.Create(podId, rootfs.Path, ("web", ["sleep", "300"]));
        request.StartGate = new StartGate { Args = { "/bin/sh", "-c", "echo waiting; exec sleep 600" }, TimeoutSeconds = 1 };
        await pods.CreatePodAsync(request);
        var slow = await PodRequests.FailureOf(() => pods.StartPodAsync(new StartPodRequest { PodId = podId }).ResponseAsync);
        slow.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        gate = (await pods.GetPodAsync(new GetPodRequest { PodId = podId })).Gate;
        gate.Reason.Should().Be("timed out after 1 s");
        gate.ExitCode.Should().Be(-1);
        gate.Output.ToStringUtf8().Should().Be("waiting\n");
        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId });
    }
}
