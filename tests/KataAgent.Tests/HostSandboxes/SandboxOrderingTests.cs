using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// The sandbox's ordering logic through its seams (<see cref="IVirtualMachine"/>, <see cref="ISandboxAgent"/>),
/// with fakes that log every call: which disk goes when, the destroy order, what a step that fails half-way
/// leaves behind, and what disposing does. No qemu, no agent, no root; only mkfs.ext4 packs the rootfs.
/// </summary>
public sealed class SandboxOrderingTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly List<string> _log = [];
    private readonly string _state;
    private readonly string _rootfs;
    private readonly FakeVirtualMachine _vm;
    private readonly FakeSandboxAgent _agent;

    public SandboxOrderingTests()
    {
        _state = Directory.CreateDirectory(_temp.File("state")).FullName;
        _rootfs = Directory.CreateDirectory(_temp.File("rootfs")).FullName;
        File.WriteAllText(Path.Combine(_rootfs, "marker"), "x\n");
        _vm = new FakeVirtualMachine(_state, _log);
        _agent = new FakeSandboxAgent(_log);
    }

    public void Dispose() => _temp.Dispose();

    private Sandbox NewSandbox(bool ownsVm = true) => new("sb", _vm, _agent, ownsVm, hasDns: false);

    private string Image(string containerId) => Path.Combine(_state, "disks", containerId + ".ext4");

    private async Task<Container> CreateAsync(Sandbox sandbox, string id)
    {
        var container = await sandbox.CreateContainerAsync(id, _rootfs, ContainerSpecs.Default(["true"], terminal: false), new ContainerOptions { AttachStdio = false });
        _log.Clear();
        return container;
    }

    [Fact]
    public async Task Creating_a_container_plugs_its_disk_before_CreateContainer_names_it()
    {
        var sandbox = NewSandbox();

        await sandbox.CreateContainerAsync("c1", _rootfs, ContainerSpecs.Default(["true"], terminal: false), new ContainerOptions { AttachStdio = false });

        _log.Should().Equal("AddDisk c1.ext4", "CreateContainer c1 storage=10/00");
        File.Exists(Image("c1")).Should().BeTrue();
    }

    [Fact]
    public async Task A_refused_CreateContainer_releases_the_disk_it_was_given()
    {
        var sandbox = NewSandbox();
        _agent.Refuse["CreateContainer"] = AgentStatusCode.InvalidArgument;

        var create = async () => await sandbox.CreateContainerAsync("c1", _rootfs, ContainerSpecs.Default(["true"], terminal: false));

        (await create.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.InvalidArgument);
        _log.Should().Equal("AddDisk c1.ext4", "CreateContainer c1 storage=10/00", "QueryDisks", "RemoveDisk 10/00");
        _vm.AttachedImages.Should().BeEmpty();
        File.Exists(Image("c1")).Should().BeFalse();
    }

    [Fact]
    public async Task Removing_a_container_asks_the_agent_first_and_only_then_unplugs_its_disk_and_deletes_its_image()
    {
        var sandbox = NewSandbox();
        var container = await CreateAsync(sandbox, "c1");

        await container.RemoveAsync(TimeSpan.FromSeconds(7));

        _log.Should().Equal("RemoveContainer c1 timeout=7s", "QueryDisks", "RemoveDisk 10/00");
        File.Exists(Image("c1")).Should().BeFalse();
        _vm.AttachedImages.Should().BeEmpty();
    }

    [Fact]
    public async Task RemoveContainerAsync_by_id_does_the_same_as_the_handle_with_the_default_timeout()
    {
        var sandbox = NewSandbox();
        await CreateAsync(sandbox, "c1");

        await sandbox.RemoveContainerAsync("c1");

        _log.Should().Equal($"RemoveContainer c1 timeout={new ContainerOptions().RemoveTimeout.TotalSeconds:0}s", "QueryDisks", "RemoveDisk 10/00");
        File.Exists(Image("c1")).Should().BeFalse();
    }

    [Fact]
    public async Task A_refused_RemoveContainer_leaves_the_disk_plugged_and_its_image_in_place()
    {
        var sandbox = NewSandbox();
        var container = await CreateAsync(sandbox, "c1");
        _agent.Refuse["RemoveContainer"] = AgentStatusCode.DeadlineExceeded;

        var remove = async () => await container.RemoveAsync();

        (await remove.Should().ThrowAsync<AgentStatusException>()).Which.StatusCode.Should().Be(AgentStatusCode.DeadlineExceeded);
        _log.Should().Equal("RemoveContainer c1 timeout=10s");
        _vm.AttachedImages.Should().Equal(Image("c1"));
        File.Exists(Image("c1")).Should().BeTrue("the guest may still have it mounted");
    }

    [Fact]
    public async Task A_disk_the_guest_does_not_release_fails_the_removal_but_the_container_is_gone_and_destroy_does_not_ask_again()
    {
        var sandbox = NewSandbox();
        var container = await CreateAsync(sandbox, "c1");
        _vm.RemoveDiskFailure = new VmException("the guest did not release the disk");

        var remove = async () => await container.RemoveAsync();

        await remove.Should().ThrowAsync<VmException>();
        File.Exists(Image("c1")).Should().BeTrue("the image stays open in qemu until the unplug finishes");
        _log.Clear();
        await sandbox.DestroyAsync();
        _log.Should().Equal("DestroySandbox", "Stop grace=20s", "Dispose");
    }

    [Fact]
    public async Task Destroy_removes_the_containers_then_sends_DestroySandbox_then_stops_the_VM_then_deletes_the_state()
    {
        var sandbox = NewSandbox();
        await CreateAsync(sandbox, "c1");
        await CreateAsync(sandbox, "c2");

        await sandbox.DestroyAsync();

        _log.Should().Equal("RemoveContainer c1 timeout=10s", "RemoveContainer c2 timeout=10s", "DestroySandbox", "Stop grace=20s", "Dispose");
        _log.Should().NotContain(e => e.StartsWith("RemoveDisk", StringComparison.Ordinal), "the disks go with the VM");
        Directory.Exists(_state).Should().BeFalse();
        await sandbox.DestroyAsync();
        _log.Should().HaveCount(5, "a destroyed sandbox is destroyed once");
    }

    [Fact]
    public async Task Refusals_do_not_stop_the_destroy_and_a_refused_DestroySandbox_stops_the_VM_at_once()
    {
        var sandbox = NewSandbox();
        await CreateAsync(sandbox, "c1");
        _agent.Refuse["RemoveContainer"] = AgentStatusCode.NotFound;
        _agent.Refuse["DestroySandbox"] = AgentStatusCode.Unavailable;

        await sandbox.DestroyAsync();

        _log.Should().Equal("RemoveContainer c1 timeout=10s", "DestroySandbox", "Stop grace=0s", "Dispose");
        Directory.Exists(_state).Should().BeFalse();
    }

    [Fact]
    public async Task A_failed_network_restore_keeps_the_state_directory_and_its_journal_and_a_second_destroy_finishes()
    {
        var sandbox = NewSandbox();
        string journal = Path.Combine(_state, Sandbox.NetworkJournalFileName);
        File.WriteAllText(journal, "not a journal");

        var destroy = async () => await sandbox.DestroyAsync();

        await destroy.Should().ThrowAsync<PodNetworkException>();
        _log.Should().Equal("DestroySandbox", "Stop grace=20s", "Close");
        File.ReadAllText(journal).Should().Be("not a journal", "the journal is what another try works from");
        Directory.Exists(_state).Should().BeTrue();

        File.Delete(journal);
        _log.Clear();
        await sandbox.DestroyAsync();

        _log.Should().Equal(["Dispose"], "the VM is gone already: only the restore and the state are left");
        Directory.Exists(_state).Should().BeFalse();
    }

    [Fact]
    public async Task Disposing_a_sandbox_whose_VM_it_started_asks_the_agent_nothing_but_stops_the_VM_and_deletes_the_state()
    {
        var sandbox = NewSandbox(ownsVm: true);
        var container = await CreateAsync(sandbox, "c1");

        await container.DisposeAsync();
        await sandbox.DisposeAsync();

        _log.Should().Equal("Stop grace=0s", "Dispose");
        Directory.Exists(_state).Should().BeFalse();
    }

    [Fact]
    public async Task Disposing_a_detached_or_attached_sandbox_only_disconnects()
    {
        var sandbox = NewSandbox(ownsVm: false);
        await CreateAsync(sandbox, "c1");

        await sandbox.DisposeAsync();

        _log.Should().Equal("Close");
        _vm.IsRunning.Should().BeTrue();
        File.Exists(Image("c1")).Should().BeTrue();
    }

    [Fact]
    public async Task Disposing_after_a_failed_network_restore_does_not_throw_and_keeps_the_journal()
    {
        var sandbox = NewSandbox(ownsVm: true);
        string journal = Path.Combine(_state, Sandbox.NetworkJournalFileName);
        File.WriteAllText(journal, "not a journal");

        await sandbox.DisposeAsync();

        _log.Should().Equal("Stop grace=0s", "Close");
        File.Exists(journal).Should().BeTrue();
    }

    [Fact]
    public async Task A_start_whose_CreateSandbox_is_refused_stops_the_VM_and_leaves_no_state()
    {
        var options = new SandboxOptions { Id = "sb", RootfsMode = RootfsMode.Blk, Vm = new QemuOptions { KernelPath = "vmlinuz", InitrdPath = "initrd.img", StateDirectory = _state } };
        _agent.Refuse["CreateSandbox"] = AgentStatusCode.AlreadyExists;
        QemuOptions? booted = null;

        var start = async () => await Sandbox.StartCoreAsync(options, (vmOptions, _) =>
        {
            booted = vmOptions;
            return Task.FromResult<(IVirtualMachine, ISandboxAgent)>((_vm, _agent));
        }, CancellationToken.None);

        (await start.Should().ThrowAsync<AgentStatusException>()).Which.Kind.Should().Be(KataAgentErrorKind.AgentStatus);
        booted.Should().Be(options.Vm, "the VM gets the sandbox's QemuOptions as they are");
        _log.Should().Equal("CreateSandbox sb", "Stop grace=0s", "Dispose");
        Directory.Exists(_state).Should().BeFalse();
    }

    [Fact]
    public async Task Every_QemuOptions_setting_reaches_the_VM()
    {
        var vmOptions = new QemuOptions
        {
            KernelPath = "vmlinuz", InitrdPath = "initrd.img", StateDirectory = _state,
            QemuPath = "/opt/qemu/bin/qemu-system-x86_64", AllowKvm = false, Cpus = 3, MemoryMiB = 777, HotplugSlots = 2,
        };
        QemuOptions? booted = null;

        var sandbox = await Sandbox.StartCoreAsync(new SandboxOptions { Id = "sb", RootfsMode = RootfsMode.Blk, Vm = vmOptions }, (options, _) =>
        {
            booted = options;
            return Task.FromResult<(IVirtualMachine, ISandboxAgent)>((_vm, _agent));
        }, CancellationToken.None);

        booted!.QemuPath.Should().Be("/opt/qemu/bin/qemu-system-x86_64");
        booted.AllowKvm.Should().BeFalse();
        booted.Should().Be(vmOptions);
        await sandbox.DestroyAsync();
    }
}
