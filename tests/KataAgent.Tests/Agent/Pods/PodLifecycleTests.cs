using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using KataAgent.Tests.Containers;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>
/// kataagent.v1.Pods on the published agent, stand-alone as root, with busybox containers: CreatePod as one
/// transaction, StartPod, GetPod, DeletePod, over gRPC and ttrpc. Sandboxes use fixed guest paths
/// (/run/sandbox-ns, /run/kata-containers/sandbox): these tests share the mount table collection.
/// </summary>
[Collection(HostMountTableCollection.Name)]
public class PodLifecycleTests
{
    [Fact]
    public async Task A_two_container_pod_is_created_and_started_both_run_and_DeletePod_leaves_nothing_behind()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await using var ttrpc = await agent.ConnectAsync(new AgentClientOptions { Protocol = AgentProtocol.Ttrpc, ConnectTimeout = TimeSpan.FromSeconds(20) });
        var pods = PodRequests.Client(client.CallInvoker);
        string podId = PodRequests.NewId();
        var request = PodRequests.Create(podId, rootfs.Path,
            ("web", ["sh", "-c", "echo web:$(hostname); exec sleep 300"]),
            ("side", ["sh", "-c", "echo side; exit 7"]));
        request.Annotations["team"] = "storage";

        await pods.CreatePodAsync(request);
        var created = await PodRequests.Client(ttrpc.CallInvoker).GetPodAsync(new GetPodRequest { PodId = podId });
        created.Containers.Select(c => (c.Name, c.ContainerId, c.State)).Should().Equal(
            ("web", $"{podId}-web", PodContainerStatus.Types.State.Created),
            ("side", $"{podId}-side", PodContainerStatus.Types.State.Created));
        created.Gate.State.Should().Be(GateStatus.Types.State.None);
        created.Annotations.Should().Contain("team", "storage");
        Directory.Exists(PodRequests.CgroupOf($"{podId}-web")).Should().BeTrue();

        var again = await PodRequests.FailureOf(() => pods.CreatePodAsync(PodRequests.Create(PodRequests.NewId(), rootfs.Path, ("x", ["true"]))).ResponseAsync);
        again.StatusCode.Should().Be(StatusCode.AlreadyExists, again.Status.Detail);
        again.Status.Detail.Should().StartWith("sandbox.sandbox_id:");

        var started = await pods.StartPodAsync(new StartPodRequest { PodId = podId });
        started.Gate.State.Should().Be(GateStatus.Types.State.None);
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = $"{podId}-side" })).Status.Should().Be(7);
        (await ContainerLifecycleTests.ReadAllAsync(client, $"{podId}-side", "", stderr: false)).Should().Be("side\n");
        var exec = new Process { Args = { "sh", "-c", "pidof sleep >/dev/null && echo web-running" }, Env = { "PATH=/bin" }, Cwd = "/" };
        await client.ExecProcessAsync(new ExecProcessRequest { ContainerId = $"{podId}-web", ExecId = "probe", Process = exec });
        (await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = $"{podId}-web", ExecId = "probe" })).Status.Should().Be(0);
        (await ContainerLifecycleTests.ReadAllAsync(client, $"{podId}-web", "probe", stderr: false)).Should().Be("web-running\n");

        var running = await pods.GetPodAsync(new GetPodRequest { PodId = podId });
        running.Containers[0].State.Should().Be(PodContainerStatus.Types.State.Running);
        running.Containers[0].StartedAt.Should().BeGreaterThan(0);
        running.Containers[1].State.Should().Be(PodContainerStatus.Types.State.Exited);
        running.Containers[1].ExitCode.Should().Be(7);
        running.Containers[1].FinishedAt.Should().BeGreaterThanOrEqualTo(running.Containers[1].StartedAt);

        // sleep ignores nothing: SIGTERM within the grace period ends it.
        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId, GraceSeconds = 10 });
        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
        File.Exists("/run/sandbox-ns/uts").Should().BeFalse();
        Directory.Exists(PodRequests.CgroupOf($"{podId}-web")).Should().BeFalse();
        Directory.Exists(PodRequests.CgroupOf($"{podId}-side")).Should().BeFalse();
        var gone = await PodRequests.FailureOf(() => pods.GetPodAsync(new GetPodRequest { PodId = podId }).ResponseAsync);
        gone.StatusCode.Should().Be(StatusCode.NotFound);
        gone.Status.Detail.Should().Contain("was deleted");

        // Idempotent for a deleted pod, NOT_FOUND for one never seen; over ttrpc as over gRPC.
        await PodRequests.Client(ttrpc.CallInvoker).DeletePodAsync(new DeletePodRequest { PodId = podId });
        var unknown = await PodRequests.FailureOf(() => PodRequests.Client(ttrpc.CallInvoker).DeletePodAsync(new DeletePodRequest { PodId = "never-made" }).ResponseAsync);
        unknown.StatusCode.Should().Be(StatusCode.NotFound);
        unknown.Status.Detail.Should().StartWith("pod_id:");
    }

    [Fact]
    public async Task A_container_that_fails_to_be_created_undoes_the_whole_pod_and_a_valid_pod_follows()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        var pods = PodRequests.Client(client.CallInvoker);
        string podId = PodRequests.NewId();
        var request = PodRequests.Create(podId, rootfs.Path, ("db", ["sleep", "300"]), ("web", ["sleep", "300"]));
        // Valid as written (checked before anything is made); it fails only when made, after the sandbox and "db" exist.
        request.Sandbox.Storages.Add(new Storage { Driver = "ephemeral", Source = "shm", Fstype = "tmpfs", Options = { "size=1m" }, MountPoint = "/run/kata-containers/sandbox/pod-shm" });
        request.Containers[1].Container.OCI.Root.Path = Path.Combine(rootfs.Path, "no-such-dir");

        var failure = await PodRequests.FailureOf(() => pods.CreatePodAsync(request).ResponseAsync);
        failure.StatusCode.Should().Be(StatusCode.InvalidArgument, failure.Status.Detail);
        failure.Status.Detail.Should().StartWith("containers[1] (name \"web\").container.OCI.Root.Path:");

        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore, "the sandbox storage and the namespace pins are gone");
        File.Exists("/run/sandbox-ns/uts").Should().BeFalse();
        Directory.Exists(PodRequests.CgroupOf($"{podId}-db")).Should().BeFalse("the first container was destroyed");
        var noDb = async () => await client.WaitProcessAsync(new WaitProcessRequest { ContainerId = $"{podId}-db" });
        (await noDb.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.NotFound);
        (await PodRequests.FailureOf(() => pods.GetPodAsync(new GetPodRequest { PodId = podId }).ResponseAsync)).StatusCode.Should().Be(StatusCode.NotFound);

        // Nothing is in the way of the next pod: same ids, a good spec.
        request.Containers[1].Container.OCI.Root.Path = rootfs.Path;
        await pods.CreatePodAsync(request);
        await pods.StartPodAsync(new StartPodRequest { PodId = podId });
        (await pods.GetPodAsync(new GetPodRequest { PodId = podId })).Containers.Select(c => c.State).Should().Equal(PodContainerStatus.Types.State.Running, PodContainerStatus.Types.State.Running);
        await pods.DeletePodAsync(new DeletePodRequest { PodId = podId });
        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
    }

    [Fact]
    public async Task Invalid_requests_are_refused_naming_the_field_over_both_protocols_before_anything_is_made()
    {
        using var rootfs = await BusyboxRootfs.CreateAsync();
        string mountsBefore = HostMountTable.ReadWithoutNetns();
        await using var agent = AgentProcess.StartOnUnixSocket();
        await using var client = await agent.ConnectAsync();
        await using var ttrpc = await agent.ConnectAsync(new AgentClientOptions { Protocol = AgentProtocol.Ttrpc, ConnectTimeout = TimeSpan.FromSeconds(20) });
        string podId = PodRequests.NewId();
        var request = PodRequests.Create(podId, rootfs.Path, ("db", ["true"]), ("web", ["true"]));
        request.Volumes.Add(new PodVolume { Name = "data", EmptyDir = new EmptyDirVolume { Medium = EmptyDirVolume.Types.Medium.Memory } });
        request.Containers[1].VolumeMounts.Add(new VolumeMount { Volume = "data", ContainerPath = "/data", SubPath = "../../etc" });

        var overGrpc = await PodRequests.FailureOf(() => PodRequests.Client(client.CallInvoker).CreatePodAsync(request).ResponseAsync);
        var overTtrpc = await PodRequests.FailureOf(() => PodRequests.Client(ttrpc.CallInvoker).CreatePodAsync(request).ResponseAsync);
        overGrpc.StatusCode.Should().Be(StatusCode.InvalidArgument);
        overGrpc.Status.Detail.Should().StartWith("containers[1].volume_mounts[0].sub_path:");
        overTtrpc.Status.Should().Be(overGrpc.Status);
        HostMountTable.ReadWithoutNetns().Should().Be(mountsBefore);
        File.Exists("/run/sandbox-ns/uts").Should().BeFalse();

        var badUpdate = await PodRequests.FailureOf(() => PodRequests.Client(client.CallInvoker).UpdatePodAsync(new UpdatePodRequest { PodId = "../x" }).ResponseAsync);
        badUpdate.StatusCode.Should().Be(StatusCode.InvalidArgument);
        badUpdate.Status.Detail.Should().StartWith("pod_id:");
    }
}
