using FluentAssertions;
using KataAgent.Testing.Containerd;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Containerd;

/// <summary>Faults around a running task of our runtime: its VM dies, containerd restarts.</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class ShimFaultTests(ShimContainerdFixture fixture) : IClassFixture<ShimContainerdFixture>
{
    private PrivateContainerd Containerd => fixture.Containerd;

    [Fact]
    public async Task WhenQemuIsKilledEveryTaskExitsAndTheShimLeavesNothing()
    {
        await using var events = await CtrEventStream.StartAsync(Containerd);
        var before = Containerd.CaptureFootprint();
        string id = "qk-" + Guid.NewGuid().ToString("N")[..8];
        (await Containerd.CtrAsync(["run", "-d", "--runtime", PrivateContainerd.KataAgentRuntime, BusyboxOciImage.Reference, id, "sleep", "3600"]))
            .EnsureSuccess("ctr run -d");
        (await Containerd.CtrAsync(["tasks", "exec", "-d", "--exec-id", "side", id, "sleep", "3600"])).EnsureSuccess("ctr tasks exec -d");
        await events.WaitForAsync("/tasks/exec-started", e => e.GetProperty("exec_id").GetString() == "side");
        var qemu = ShimHost.QemuPids(Containerd, Containerd.Namespace, id);
        qemu.Should().ContainSingle("one VM runs the task");

        HostTools.Run("kill", "-KILL", qemu[0].ToString(System.Globalization.CultureInfo.InvariantCulture));

        var execExit = await events.WaitForAsync("/tasks/exit", e => e.GetProperty("container_id").GetString() == id && e.GetProperty("id").GetString() == "side");
        var initExit = await events.WaitForAsync("/tasks/exit", e => e.GetProperty("container_id").GetString() == id && e.GetProperty("id").GetString() == id);
        execExit.Payload.GetProperty("exit_status").GetInt32().Should().NotBe(0);
        initExit.Payload.GetProperty("exit_status").GetInt32().Should().NotBe(0);
        (await ShimHost.TaskLineAsync(Containerd, id))!.Value.Status.Should().Be("STOPPED");
        ShimHost.VirtiofsdPids(Containerd).Should().BeEmpty("the VM's virtiofsd goes with it");
        (await Containerd.CtrAsync(["tasks", "delete", id])).EnsureSuccess("ctr tasks delete");
        (await Containerd.CtrAsync(["containers", "delete", id])).EnsureSuccess("ctr containers delete");
        await ShimHost.WaitForShimGoneAsync(Containerd, Containerd.Namespace, id);
        before.Added(Containerd.CaptureFootprint()).Should().BeEmpty();
    }

    [Fact]
    public async Task ATaskRunningWhileContainerdRestartsIsStillThereAndServesAfterwards()
    {
        var before = Containerd.CaptureFootprint();
        string id = "rs-" + Guid.NewGuid().ToString("N")[..8];
        (await Containerd.CtrAsync(["run", "-d", "--runtime", PrivateContainerd.KataAgentRuntime, BusyboxOciImage.Reference, id, "sleep", "3600"]))
            .EnsureSuccess("ctr run -d");
        var running = await ShimHost.TaskLineAsync(Containerd, id);
        var shims = Containerd.ShimPids(Containerd.Namespace, id);
        shims.Should().ContainSingle();

        await Containerd.RestartAsync();

        Containerd.ShimPids(Containerd.Namespace, id).Should().BeEquivalentTo(shims, "the shim outlives containerd");
        (await ShimHost.TaskLineAsync(Containerd, id)).Should().Be(running, "containerd reconnects to the shim and finds the task as it was");
        var exec = await Containerd.CtrAsync(["tasks", "exec", "--exec-id", "after", id, "sh", "-c", "echo still here; exit 2"]);
        exec.ExitCode.Should().Be(2, exec.ToString());
        exec.StandardOutput.Should().Be("still here\n");
        (await Containerd.CtrAsync(["tasks", "kill", "-s", "SIGKILL", id])).EnsureSuccess("ctr tasks kill");
        await ShimHost.WaitForAsync(async () => (await ShimHost.TaskLineAsync(Containerd, id))?.Status == "STOPPED", "the task to stop");
        (await Containerd.CtrAsync(["tasks", "delete", id])).StandardError.Should().Contain("exit code 137");
        (await Containerd.CtrAsync(["containers", "delete", id])).EnsureSuccess("ctr containers delete");
        await ShimHost.WaitForShimGoneAsync(Containerd, Containerd.Namespace, id);
        before.Added(Containerd.CaptureFootprint()).Should().BeEmpty();
    }
}
