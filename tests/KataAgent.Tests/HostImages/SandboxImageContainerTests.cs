using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Host.Sandboxes;
using KataAgent.Image;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Images;
using KataAgent.Tests.HostSandboxes;
using Xunit;

namespace KataAgent.Tests.HostImages;

/// <summary>
/// <see cref="Sandbox.CreateContainerFromImageAsync"/> through the sandbox's seams (fake VM, agent and share; a real
/// store and unpack, as root): the image unpacked into the state directory before it is shared, the image's process in
/// CreateContainer's spec (then the caller's EditSpec), the unpacked rootfs deleted once the container is removed, when
/// CreateContainer is refused, and (blk) once it is packed; a used id refused before anything is unpacked.
/// </summary>
public sealed class SandboxImageContainerTests(AppImageStoreFixture store) : IClassFixture<AppImageStoreFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly List<string> _log = [];

    public void Dispose() => _temp.Dispose();

    private (Sandbox Sandbox, FakeSandboxAgent Agent, FakeVirtualMachine Vm) NewSandbox(bool share = true)
    {
        string state = Directory.CreateDirectory(_temp.File("state")).FullName;
        var vm = new FakeVirtualMachine(state, _log);
        var agent = new FakeSandboxAgent(_log);
        return (new Sandbox("sb", vm, agent, ownsVm: true, hasDns: false, share: share ? new FakeSandboxShare(_log) : null), agent, vm);
    }

    [Fact]
    public async Task The_image_is_unpacked_into_the_state_shared_created_with_its_process_and_deleted_on_remove()
    {
        var (sandbox, agent, _) = NewSandbox();
        Spec? edited = null;

        await sandbox.CreateContainerFromImageAsync("c1", store.Images, AppImageStoreFixture.Name, new ImageContainerOptions
        {
            Overrides = new ImageProcessOverrides { Env = ["EXTRA=1"] },
            EditSpec = spec =>
            {
                edited = spec;
                spec.Annotations["edited"] = "yes";
            },
        }, new ContainerOptions { AttachStdio = false });

        string rootfs = sandbox.ImageRootfsPath("c1");
        rootfs.Should().Be(Path.Combine(_temp.File("state"), "image-rootfs", "c1"));
        File.ReadAllText(Path.Combine(rootfs, "srv", "app", "note.txt")).Should().Be("a note in the image\n");
        _log.Should().Equal("ShareRootfs c1", $"CreateContainer c1 root={Sandbox.SharedRootfsPath("c1")}");
        var process = agent.LastCreateContainer!.OCI.Process;
        process.Args.Should().Equal("/bin/sh", "-c", BusyboxAppImage.Script, "app", "default-arg");
        process.Env.Should().Equal("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=from-image", "EXTRA=1");
        process.Cwd.Should().Be("/srv/app");
        (process.User.UID, process.User.GID).Should().Be((1000u, 1000u));
        process.User.AdditionalGids.Should().Equal(50u);
        agent.LastCreateContainer.OCI.Annotations.Should().Contain("edited", "yes");
        edited.Should().NotBeNull();

        _log.Clear();
        await sandbox.RemoveContainerAsync("c1");

        _log.Should().Equal("RemoveContainer c1 timeout=10s", "Unshare c1", "RemoveStaleVirtiofsShareMounts");
        Directory.Exists(rootfs).Should().BeFalse("the unpacked rootfs goes with its container");
    }

    [Fact]
    public async Task A_refused_create_unshares_and_deletes_the_unpacked_rootfs_and_a_used_id_unpacks_nothing()
    {
        var (sandbox, agent, _) = NewSandbox();
        agent.Refuse["CreateContainer"] = AgentStatusCode.InvalidArgument;

        var refused = () => sandbox.CreateContainerFromImageAsync("c2", store.Images, AppImageStoreFixture.Name);

        await refused.Should().ThrowAsync<AgentStatusException>();
        _log.Should().EndWith("Unshare c2");
        Directory.Exists(sandbox.ImageRootfsPath("c2")).Should().BeFalse();

        agent.Refuse.Clear();
        await sandbox.CreateContainerFromImageAsync("c3", store.Images, AppImageStoreFixture.Name);
        _log.Clear();
        var again = () => sandbox.CreateContainerFromImageAsync("c3", store.Images, AppImageStoreFixture.Name);
        (await again.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain("'c3' is already used");
        _log.Should().BeEmpty("nothing is unpacked or shared for an id in use");
        var missing = () => sandbox.CreateContainerFromImageAsync("c4", store.Images, "example.com/not/stored:v1");
        (await missing.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.NotFound);
        Directory.Exists(sandbox.ImageRootfsPath("c4")).Should().BeFalse();
    }

    [Fact]
    public async Task With_blk_the_unpacked_rootfs_is_packed_onto_a_disk_and_then_deleted()
    {
        var (sandbox, agent, vm) = NewSandbox(share: false);

        await sandbox.CreateContainerFromImageAsync("c5", store.Images, AppImageStoreFixture.Name);

        agent.LastCreateContainer!.Storages.Should().ContainSingle().Which.Driver.Should().Be("blk");
        vm.AttachedImages.Should().ContainSingle().Which.Should().EndWith("c5.ext4");
        Directory.Exists(sandbox.ImageRootfsPath("c5")).Should().BeFalse("the disk image holds the rootfs now");
    }
}
