using FluentAssertions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Host.Sandboxes;
using KataAgent.Linux.Addressing;
using KataAgent.Protocols.Containerd.Runc;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Shim.Tasks;
using Xunit;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>
/// The shim's Checkpoint before any VM is touched: which devices refuse it (each named with the configuration key that
/// avoids it) and how containerd's request reads (path, runc's and the legacy checkpoint options, exit, image_path).
/// </summary>
public sealed class CheckpointRefusalTests
{
    private const string Config = "/etc/kataagent/configuration.json";

    [Fact]
    public void The_shim_defaults_are_refused_naming_both_devices_and_both_options()
    {
        string? reason = CheckpointRefusal.Reason("pod1", RootfsMode.VirtioFs, ["kataShared"], AgentAddressKind.HybridVsock, Config);

        reason.Should().Be("pod pod1 cannot be checkpointed: its VM has a virtio-fs share (vhost-user-fs-pci \"kataShared\", the containers' rootfs share) " +
            "and the agent's vsock device (vhost-user-vsock-pci, which the shim serves itself because this host has no /dev/vhost-vsock), " +
            "and qemu 7.2 cannot migrate a vhost-user device; set \"rootfsMode\": \"blk\" and \"agentChannel\": \"serial\" in the shim configuration " +
            "/etc/kataagent/configuration.json, and pods created after that can be checkpointed");
    }

    [Fact]
    public void Each_device_alone_names_only_its_option()
    {
        CheckpointRefusal.Reason("p", RootfsMode.Blk, [], AgentAddressKind.HybridVsock, Config).Should()
            .Contain("vhost-user-vsock-pci").And.Contain("\"agentChannel\": \"serial\"").And.NotContain("virtio-fs").And.NotContain("rootfsMode");
        CheckpointRefusal.Reason("p", RootfsMode.VirtioFs, [], AgentAddressKind.Unix, Config).Should()
            .Contain("vhost-user-fs-pci \"kataShared\"").And.Contain("\"rootfsMode\": \"blk\"").And.NotContain("vsock").And.NotContain("agentChannel");
        CheckpointRefusal.Reason("p", RootfsMode.Blk, ["logs"], AgentAddressKind.Unix, Config).Should()
            .Contain("a virtio-fs share (vhost-user-fs-pci \"logs\")");
    }

    [Theory]
    [InlineData(AgentAddressKind.Unix)]
    [InlineData(AgentAddressKind.Vsock)]
    public void Blk_with_the_serial_channel_or_the_kernels_vsock_can_be_checkpointed(AgentAddressKind agent)
    {
        CheckpointRefusal.Reason("p", RootfsMode.Blk, [], agent, Config).Should().BeNull();
    }

    [Fact]
    public void The_path_is_containerds_and_the_pod_runs_on_without_options()
    {
        TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p", Path = "/var/lib/ctd-checkpoint1" })
            .Should().Be((false, "/var/lib/ctd-checkpoint1"));
        TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p", Path = "/tmp/a/../b", Options = new Any() })
            .Should().Be((false, "/tmp/b"));
    }

    [Theory]
    [InlineData("containerd.runc.v1.CheckpointOptions")]
    [InlineData("containerd.linux.runc.CheckpointOptions")]
    [InlineData("type.googleapis.com/containerd.runc.v1.CheckpointOptions")]
    public void Exit_and_image_path_come_from_either_options_type(string typeUrl)
    {
        var options = new Any { TypeUrl = typeUrl, Value = new CheckpointOptions { Exit = true, ImagePath = "/srv/cp" }.ToByteString() };

        TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p", Path = "/tmp/x", Options = options }).Should().Be((true, "/srv/cp"));
    }

    [Fact]
    public void A_bad_path_or_options_are_refused_naming_the_field()
    {
        var relative = () => TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p", Path = "cp" });
        relative.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument).WithMessage("path: 'cp' is not an absolute path");
        var empty = () => TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p" });
        empty.Should().Throw<TaskException>().WithMessage("path: '' is not an absolute path");
        var other = () => TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p", Path = "/x", Options = new Any { TypeUrl = "runtimeoptions.v1.Options", Value = ByteString.CopyFromUtf8("x") } });
        other.Should().Throw<TaskException>().Where(e => e.Kind == TaskErrorKind.InvalidArgument).WithMessage("options: checkpoint options of type 'runtimeoptions.v1.Options' are not*");
        var garbage = () => TaskService.ReadCheckpointOptions(new CheckpointTaskRequest { Id = "p", Path = "/x", Options = new Any { TypeUrl = "containerd.runc.v1.CheckpointOptions", Value = ByteString.CopyFrom(0xff, 0xff, 0xff) } });
        garbage.Should().Throw<TaskException>().WithMessage("options: not a containerd.runc.v1.CheckpointOptions:*");
    }
}
