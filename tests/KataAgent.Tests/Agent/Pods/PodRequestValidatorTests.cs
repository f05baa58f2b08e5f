using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Pods;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using Xunit;

namespace KataAgent.Tests.Agent.Pods;

/// <summary>CreatePod's checks, each naming the field at fault.</summary>
public class PodRequestValidatorTests
{
    private static CreatePodRequest Valid()
    {
        var request = PodRequests.Create("pod1", "/srv/rootfs", ("db", ["true"]), ("web", ["true"]));
        request.Volumes.Add(new PodVolume { Name = "data", EmptyDir = new EmptyDirVolume() });
        request.Volumes.Add(new PodVolume { Name = "disk", Block = new BlockVolume { PciPath = "02/00", Encryption = new VolumeEncryption { Ephemeral = new EphemeralKey() } } });
        request.Containers[1].VolumeMounts.Add(new VolumeMount { Volume = "data", ContainerPath = "/var/data", SubPath = "web/cache" });
        request.StartGate = new StartGate { Args = { "/bin/attest", "--nonce" }, Env = { "A=1" }, Container = "web", TimeoutSeconds = 30 };
        return request;
    }

    [Fact]
    public void A_valid_pod_passes_and_its_members_are_named_in_order()
    {
        var (podId, members) = PodRequestValidator.Validate(Valid());
        podId.Should().Be("pod1");
        members.Select(m => (m.Index, m.Name, m.ContainerId)).Should().Equal((0, "db", "pod1-db"), (1, "web", "pod1-web"));
        members[1].Field.Should().Be("containers[1] (name \"web\")");
    }

    public static TheoryData<string, Action<CreatePodRequest>> Breakages() => new()
    {
        { "sandbox", r => r.Sandbox = null },
        { "sandbox.sandbox_id", r => r.Sandbox.SandboxId = "../pod" },
        { "sandbox.dns[0]", r => r.Sandbox.Dns.Add("nameserver 1.2.3.4\nsearch evil") },
        { "sandbox.storages[0].mount_point", r => r.Sandbox.Storages.Add(new Storage { Driver = "ephemeral", Fstype = "tmpfs", MountPoint = "/etc" }) },
        { "volumes[1].name", r => r.Volumes[1].Name = "Disk" },
        { "volumes[1].name", r => r.Volumes[1].Name = "data" },
        { "volumes[0].source", r => r.Volumes[0].EmptyDir = null },
        { "volumes[1].block.pci_path", r => r.Volumes[1].Block.PciPath = "zz/00" },
        { "volumes[1].block.fs_type", r => r.Volumes[1].Block.FsType = "xfs" },
        { "volumes[1].block.encryption.provided", r => r.Volumes[1].Block.Encryption.Provided = Google.Protobuf.ByteString.CopyFrom(new byte[7]) },
        { "containers", r => r.Containers.Clear() },
        { "containers[1].name", r => r.Containers[1].Name = "db" },
        { "containers[1].name", r => r.Containers[1].Name = "web_1" },
        { "containers[0].container", r => r.Containers[0].Container = null },
        { "containers[0].container.container_id", r => r.Containers[0].Container.ContainerId = "a/b" },
        { "containers[1].container.container_id", r => r.Containers[1].Container.ContainerId = "pod1-db" },
        { "containers[1].container.container_id", r => r.Containers[1].Container.ContainerId = "pod1" },
        { "containers[0].container.OCI", r => r.Containers[0].Container.OCI = null },
        { "containers[0].container.OCI.Mounts[0].destination", r => r.Containers[0].Container.OCI.Mounts[0].Destination = "proc" },
        { "containers[0].container.devices", r => r.Containers[0].Container.Devices.Add(new Device { Id = "x" }) },
        { "containers[1].volume_mounts[0].volume", r => r.Containers[1].VolumeMounts[0].Volume = "cache" },
        { "containers[1].volume_mounts[0].container_path", r => r.Containers[1].VolumeMounts[0].ContainerPath = "var/data" },
        { "containers[1].volume_mounts[0].container_path", r => r.Containers[1].VolumeMounts[0].ContainerPath = "/var/../etc" },
        { "containers[1].volume_mounts[1].container_path", r => r.Containers[1].VolumeMounts.Add(new VolumeMount { Volume = "disk", ContainerPath = "/var/data" }) },
        { "containers[1].volume_mounts[0].sub_path", r => r.Containers[1].VolumeMounts[0].SubPath = "a/../../etc" },
        { "containers[1].volume_mounts[0].sub_path", r => r.Containers[1].VolumeMounts[0].SubPath = "/etc" },
        { "start_gate.args", r => r.StartGate.Args.Clear() },
        { "start_gate.args[0]", r => r.StartGate.Args[0] = "attest" },
        { "start_gate.env[0]", r => r.StartGate.Env[0] = "=x" },
        { "start_gate.container", r => r.StartGate.Container = "cache" },
        { "start_gate.timeout_seconds", r => r.StartGate.TimeoutSeconds = 100_000 },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void Each_bad_field_is_invalid_argument_naming_it(string field, Action<CreatePodRequest> breakIt)
    {
        var request = Valid();
        breakIt(request);
        var validate = () => PodRequestValidator.Validate(request);
        var error = validate.Should().Throw<AgentException>().Which;
        error.Kind.Should().Be(AgentErrorKind.InvalidArgument, error.Message);
        error.Field.Should().Be(field, error.Message);
        error.Message.Should().StartWith(field + ": ");
    }
}
