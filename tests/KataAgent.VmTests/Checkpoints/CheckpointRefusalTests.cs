using FluentAssertions;
using KataAgent.Host.Checkpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Rootfs.Busybox;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Checkpoints;

/// <summary>
/// A sandbox with devices qemu 7.2 cannot migrate (its virtio-fs share, the agent's vhost-user-vsock device: the
/// defaults) is refused before anything is touched: the error names each device and the option that avoids it, no
/// directory is made, and the pod runs on.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class CheckpointRefusalTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_sandbox_with_a_virtio_fs_share_and_vhost_user_vsock_is_refused_before_it_is_touched()
    {
        HostTools.RequireQemu();
        string rootfs = _temp.File("rootfs");
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        await using var sandbox = await Sandbox.StartAsync(VmOptions.Sandbox(_temp.File("state"), "refused"));
        await using var container = await sandbox.CreateContainerAsync("sleeper", rootfs, ContainerSpecs.Default(["sleep", "1000"], terminal: false));
        await container.StartAsync();
        string directory = _temp.File("checkpoint");

        var checkpoint = () => sandbox.CheckpointAsync(directory, new SandboxCheckpointOptions());

        string message = (await checkpoint.Should().ThrowAsync<CheckpointException>()).Which.Message;
        message.Should().Contain("virtio-fs share 'kataShared'").And.Contain("RootfsMode = Blk").And.Contain("nothing was stopped");
        message.Should().Contain("vhost-user-vsock").And.Contain("AgentChannel = Serial");
        Directory.Exists(directory).Should().BeFalse("a refused checkpoint writes nothing");
        (await sandbox.Vm.Qmp.ExecuteAsync("query-status")).GetProperty("status").GetString().Should().Be("running", "the pod was not paused");
        var exec = await container.ExecAsync(ContainerSpecs.Default(["echo", "still here"], terminal: false).Process);
        (await StreamText.ReadAllAsync(exec.Stdout)).Should().Be("still here\n");
        (await exec.WaitAsync()).Should().Be(0);
        await sandbox.DestroyAsync();
    }
}
