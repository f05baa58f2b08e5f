using System.Text.Json;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Host.Sandboxes;
using KataAgent.Image.Registry;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// Sandbox.CreateContainerFromGuestPullAsync through the sandbox's seams: PullImage (credentials in it, nowhere else),
/// then CreateContainer with Kata's image_guest_pull storage and the image's process; a scratch disk plugged before
/// the pull and unplugged when the pull is refused. No qemu, no agent.
/// </summary>
public sealed class SandboxGuestPullTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly List<string> _log = [];
    private readonly string _state;
    private readonly FakeVirtualMachine _vm;
    private readonly FakeSandboxAgent _agent;

    public SandboxGuestPullTests()
    {
        _state = Directory.CreateDirectory(_temp.File("state")).FullName;
        _vm = new FakeVirtualMachine(_state, _log);
        _agent = new FakeSandboxAgent(_log);
    }

    public void Dispose() => _temp.Dispose();

    private Sandbox NewSandbox() => new("sb", _vm, _agent, ownsVm: true, hasDns: false);

    [Fact]
    public async Task A_guest_pull_sends_PullImage_with_the_credentials_then_CreateContainer_with_kata_s_storage_and_the_images_process()
    {
        var sandbox = NewSandbox();
        var options = new GuestPullOptions
        {
            Credentials = new RegistryCredentials("tester", "s3cret"),
            PlainHttpRegistries = ["10.0.0.2:5000"],
            Overrides = new ImageProcessOverrides { Args = ["x"], Env = ["A=1"], User = "0:0", WorkingDirectory = "/work" },
            EditSpec = spec => spec.Annotations["io.kubernetes.cri.image-name"] = "10.0.0.2:5000/app:v1",
        };

        await sandbox.CreateContainerFromGuestPullAsync("c1", "10.0.0.2:5000/app:v1", options, new ContainerOptions { AttachStdio = false });

        _log.Should().Equal("PullImage c1 10.0.0.2:5000/app:v1", "CreateContainer c1 storage=10.0.0.2:5000/app:v1");
        var pull = _agent.LastPullImage!;
        pull.Credentials.Username.Should().Be("tester");
        pull.Credentials.Password.Should().Be("s3cret");
        pull.PlainHttpRegistries.Should().Equal("10.0.0.2:5000");
        pull.SetArgs.Should().BeTrue();
        pull.Args.Should().Equal("x");
        pull.SetEntrypoint.Should().BeFalse();
        pull.Env.Should().Equal("A=1");
        pull.User.Should().Be("0:0");
        pull.Storage.Memory.Should().NotBeNull();

        var create = _agent.LastCreateContainer!;
        create.OCI.Root.Path.Should().Be("/run/kata-containers/c1/rootfs");
        create.OCI.Process.Args.Should().Equal("/bin/app", "--flag");
        create.OCI.Process.Cwd.Should().Be("/work", "the caller's workdir overrides the image's");
        create.OCI.Process.User.UID.Should().Be(1000);
        var storage = create.Storages.Should().ContainSingle().Which;
        storage.Driver.Should().Be("image_guest_pull");
        storage.Source.Should().Be("10.0.0.2:5000/app:v1");
        storage.MountPoint.Should().Be("/run/kata-containers/c1/rootfs");
        storage.DriverOptions.Should().ContainSingle().Which.Should().StartWith("image_guest_pull=");
        using var metadata = JsonDocument.Parse(storage.DriverOptions[0]["image_guest_pull=".Length..]);
        metadata.RootElement.GetProperty("metadata").GetProperty("io.kubernetes.cri.image-name").GetString().Should().Be("10.0.0.2:5000/app:v1");
        create.ToString().Should().NotContain("s3cret", "the credentials go in PullImage only");
        Directory.GetFiles(_state, "*", SearchOption.AllDirectories).Should().NotContain(f => File.ReadAllText(f).Contains("s3cret"), "nor into a host file");
    }

    [Fact]
    public async Task A_scratch_disk_is_plugged_before_the_pull_and_unplugged_when_the_pull_is_refused()
    {
        var sandbox = NewSandbox();
        _agent.Refuse["PullImage"] = AgentStatusCode.Unauthenticated;

        var create = async () => await sandbox.CreateContainerFromGuestPullAsync("c1", "10.0.0.2:5000/app:v1", new GuestPullOptions { Storage = GuestPullStorage.ScratchDisk, ScratchDiskBytes = 64L << 20 });

        (await create.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.Unauthenticated);
        _agent.LastPullImage!.Storage.Block.PciPath.Should().Be("10/00");
        _log.Should().Equal("AddDisk c1.ext4", "PullImage c1 10.0.0.2:5000/app:v1", "QueryDisks", "RemoveDisk 10/00");
        _vm.AttachedImages.Should().BeEmpty();
        File.Exists(Path.Combine(_state, "disks", "c1.ext4")).Should().BeFalse();
    }
}
