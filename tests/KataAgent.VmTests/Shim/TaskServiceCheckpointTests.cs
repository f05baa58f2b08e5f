using System.Text.Json.Nodes;
using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.Runc;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Tasks;
using Xunit;
using Status = KataAgent.Protocols.Containerd.Types.Status;

namespace KataAgent.VmTests.Shim;

/// <summary>
/// Checkpoint through the task service's ttrpc API, as containerd calls it, for a pod whose configuration allows it
/// (<c>rootfsMode: blk</c>, <c>agentChannel: serial</c>): written into the directory containerd gives with the pod
/// running on and TaskCheckpointed published; then with runc's <c>exit</c> option, after which every task of the pod
/// exits as killed and the VM's state is gone.
/// </summary>
[Collection(ShimVmCollection.Name)]
public sealed class TaskServiceCheckpointTests
{
    private const string SandboxId = "pod-shim-cp";

    [Fact]
    public async Task A_blk_serial_pod_is_checkpointed_into_containerds_directory_running_on_then_with_exit()
    {
        await using var shim = await ShimHarness.StartAsync("shim-vm-cp", new JsonObject { ["rootfsMode"] = "blk", ["agentChannel"] = "serial" });
        var annotations = new Dictionary<string, string> { [PodGrouping.CriContainerType] = "sandbox", [PodGrouping.CriSandboxId] = SandboxId };
        string podBundle = shim.Bundle(SandboxId, ShimHarness.Config(["/pause"], annotations));
        await shim.CallAsync("Create", new CreateTaskRequest { Id = SandboxId, Bundle = podBundle, Options = shim.RuntimeOptions, Rootfs = { ShimHarness.RootfsMount() } }, CreateTaskResponse.Parser);
        await shim.CallAsync("Start", new StartRequest { Id = SandboxId }, StartResponse.Parser);
        var containerAnnotations = new Dictionary<string, string> { [PodGrouping.CriContainerType] = "container", [PodGrouping.CriSandboxId] = SandboxId };
        string bundle = shim.Bundle("sleeper", ShimHarness.Config(["sleep", "1000"], containerAnnotations));
        await shim.CallAsync("Create", new CreateTaskRequest { Id = "sleeper", Bundle = bundle, Options = shim.RuntimeOptions, Rootfs = { ShimHarness.RootfsMount() } }, CreateTaskResponse.Parser);
        await shim.CallAsync("Start", new StartRequest { Id = "sleeper" }, StartResponse.Parser);
        string vmState = Directory.EnumerateDirectories(shim.StateRoot).Single();

        // As containerd's tasks service does: an empty directory of its own making, then packed into its image.
        string live = shim.Temp.CreateDirectory("ctd-checkpoint-live");
        await shim.CallAsync("Checkpoint", new CheckpointTaskRequest { Id = SandboxId, Path = live });

        Directory.EnumerateFiles(live, "*", SearchOption.AllDirectories).Should().NotBeEmpty("the checkpoint is in containerd's directory");
        shim.Events.About(SandboxId).Should().Contain($"checkpointed {live}");
        (await shim.CallAsync("State", new StateRequest { Id = SandboxId }, StateResponse.Parser)).Status.Should().Be(Status.Running, "without exit the pod runs on");
        (await shim.CallAsync("State", new StateRequest { Id = "sleeper" }, StateResponse.Parser)).Status.Should().Be(Status.Running);

        string final = shim.Temp.CreateDirectory("ctd-checkpoint-exit");
        var exit = new Any { TypeUrl = "containerd.linux.runc.CheckpointOptions", Value = new CheckpointOptions { Exit = true }.ToByteString() };
        await shim.CallAsync("Checkpoint", new CheckpointTaskRequest { Id = SandboxId, Path = final, Options = exit });

        Directory.EnumerateFiles(final, "*", SearchOption.AllDirectories).Should().NotBeEmpty();
        (await shim.CallAsync("Wait", new WaitRequest { Id = "sleeper" }, WaitResponse.Parser)).ExitStatus.Should().Be(137u, "the pod's tasks exit as killed");
        (await shim.CallAsync("Wait", new WaitRequest { Id = SandboxId }, WaitResponse.Parser)).ExitStatus.Should().Be(137u);
        Directory.Exists(vmState).Should().BeFalse("the VM's state went with it");
        await shim.CallAsync("Delete", new DeleteRequest { Id = "sleeper" }, DeleteResponse.Parser);
        await shim.CallAsync("Delete", new DeleteRequest { Id = SandboxId }, DeleteResponse.Parser);
        await shim.CallAsync("Shutdown", new ShutdownRequest { Id = SandboxId });
    }
}
