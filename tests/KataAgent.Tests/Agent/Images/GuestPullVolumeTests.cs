using FluentAssertions;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Images;
using KataAgent.Agent.Storage;
using KataAgent.Protocols.Agent;
using Xunit;

namespace KataAgent.Tests.Agent.Images;

/// <summary>
/// Kata's image_guest_pull storage as its runtime sends it: the driver option <c>image_guest_pull={"metadata":{…}}</c>,
/// the mount point <c>/run/kata-containers/&lt;cid&gt;/rootfs</c>; the sandbox (pause) container found by its
/// annotation, and its process replaced by the agent's pause, as Kata's get_process does.
/// </summary>
public sealed class GuestPullVolumeTests
{
    private static Storage KataStorage(string metadataJson = """{"metadata":{"io.kubernetes.cri.image-name":"docker.io/library/busybox:latest"}}""") => new()
    {
        Driver = "image_guest_pull",
        Source = "docker.io/library/busybox:latest",
        Fstype = "overlay",
        DriverOptions = { "image_guest_pull=" + metadataJson },
        MountPoint = "/run/kata-containers/c1/rootfs",
    };

    [Fact]
    public void Kata_s_storage_passes_and_its_metadata_is_read()
    {
        StorageManager.Validate([KataStorage()], "storages");

        var volume = GuestPullVolume.Parse(KataStorage().DriverOptions, "storages[0]");
        volume.Metadata.Should().ContainKey("io.kubernetes.cri.image-name");
        volume.IsSandbox.Should().BeFalse();
    }

    [Theory]
    [InlineData("io.kubernetes.cri.container-type")]
    [InlineData("io.kubernetes.cri-o.ContainerType")]
    public void The_sandbox_container_is_known_by_either_runtimes_annotation(string key)
    {
        GuestPullVolume.Parse(KataStorage("{\"metadata\":{\"" + key + "\":\"sandbox\"}}").DriverOptions, "s").IsSandbox.Should().BeTrue();
    }

    public static TheoryData<string, Action<Storage>> Bad() => new()
    {
        { "storages[0].driver_options", s => s.DriverOptions.Clear() },
        { "storages[0].driver_options", s => { s.DriverOptions.Clear(); s.DriverOptions.Add("image_guest_pull={not json"); } },
        { "storages[0].mount_point", s => s.MountPoint = "/run/kata-containers/c1/other" },
        { "storages[0].mount_point", s => s.MountPoint = "/run/kata-containers/../c1/rootfs" },
        { "storages[0].mount_point", s => s.MountPoint = "/run/kata-containers/-bad/rootfs" },
        { "storages[0].source", s => s.Source = "" },
        { "storages[0].source", s => s.Source = "a b" },
        { "storages[0].fstype", s => s.Fstype = "ext4" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void A_malformed_storage_is_invalid_argument_naming_the_field(string field, Action<Storage> spoil)
    {
        var storage = KataStorage();
        spoil(storage);

        var refusal = FluentActions.Invoking(() => StorageManager.Validate([storage], "storages")).Should().Throw<AgentException>().Which;

        refusal.Kind.Should().Be(AgentErrorKind.InvalidArgument);
        refusal.Field.Should().Be(field);
    }

    [Fact]
    public void The_sandbox_container_of_a_guest_pull_runs_the_helpers_pause_and_others_keep_their_process()
    {
        var spec = new Spec { Process = new KataAgent.Protocols.Agent.Process { Args = { "/pause" }, Cwd = "/x" } };
        spec.Annotations["io.kubernetes.cri.container-type"] = "sandbox";

        var pause = GuestPullSandbox.Apply(spec, [KataStorage()]);

        pause.Process.Args.Should().Equal(["/proc/self/exe", "pause"], "the container's init runs from kata-agent-init, whose pause mode it execs");
        pause.Process.Cwd.Should().Be("/");
        spec.Process.Args.Should().Equal(["/pause"], "the caller's spec is not changed");
        GuestPullSandbox.Apply(spec, []).Should().BeSameAs(spec, "without an image_guest_pull storage Kata does not override");
        var container = new Spec { Process = new KataAgent.Protocols.Agent.Process { Args = { "sh" } } };
        GuestPullSandbox.Apply(container, [KataStorage()]).Should().BeSameAs(container);
    }

    [Theory]
    [InlineData("/run/kata-containers/c1/rootfs", "c1")]
    [InlineData("/run/kata-containers/c1/rootfs/", "c1")]
    [InlineData("/run/kata-containers/c1/x/rootfs", null)]
    [InlineData("/run/kata-containers/rootfs", null)]
    [InlineData("/tmp/c1/rootfs", null)]
    public void The_container_id_comes_from_kata_s_mount_point(string mountPoint, string? id)
    {
        GuestImages.ContainerIdOf(mountPoint).Should().Be(id);
    }
}
