using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.SharedFs;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// The sandbox's ordering with <see cref="RootfsMode.VirtioFs"/> through its seams (<see cref="IVirtualMachine"/>,
/// <see cref="ISandboxAgent"/>, <see cref="ISandboxShare"/>), with fakes that log every call: the share made before
/// the VM and carried by CreateSandbox as Kata sends it, a container's rootfs and host-sourced bind mounts shared before
/// CreateContainer names them, unshared only once the agent let go, and everything unmounted before the state goes.
/// No qemu, no agent, no mounts, no root.
/// </summary>
public sealed class SandboxShareOrderingTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly List<string> _log = [];
    private readonly string _state;
    private readonly string _rootfs;
    private readonly FakeVirtualMachine _vm;
    private readonly FakeSandboxAgent _agent;
    private readonly FakeSandboxShare _share;

    public SandboxShareOrderingTests()
    {
        _state = Directory.CreateDirectory(_temp.File("state")).FullName;
        _rootfs = Directory.CreateDirectory(_temp.File("rootfs")).FullName;
        _vm = new FakeVirtualMachine(_state, _log);
        _agent = new FakeSandboxAgent(_log);
        _share = new FakeSandboxShare(_log);
    }

    public void Dispose() => _temp.Dispose();

    private Sandbox NewSandbox(bool ownsVm = true, bool hasDns = false) => new("sb", _vm, _agent, ownsVm, hasDns, share: _share);

    private static Spec SpecWith(params Mount[] mounts)
    {
        var spec = ContainerSpecs.Default(["true"], terminal: false);
        spec.Mounts.AddRange(mounts);
        return spec;
    }

    private async Task<Container> CreateAsync(Sandbox sandbox, string id, Spec? spec = null)
    {
        var container = await sandbox.CreateContainerAsync(id, _rootfs, spec ?? SpecWith(), new ContainerOptions { AttachStdio = false });
        _log.Clear();
        return container;
    }

    [Fact]
    public async Task The_share_is_made_before_the_VM_boots_with_it_and_CreateSandbox_carries_Kata_s_virtio_fs_storage()
    {
        var vmOptions = new QemuOptions { KernelPath = "vmlinuz", InitrdPath = "initrd.img", StateDirectory = _state };
        QemuOptions? booted = null;

        var sandbox = await Sandbox.StartCoreAsync(new SandboxOptions { Id = "sb", Vm = vmOptions }, (options, _) =>
        {
            _log.Add("Boot");
            booted = options;
            return Task.FromResult<(IVirtualMachine, ISandboxAgent)>((_vm, _agent));
        }, CancellationToken.None, state =>
        {
            _log.Add($"MakeShare {Path.GetFileName(state)}");
            return _share;
        });

        sandbox.RootfsMode.Should().Be(RootfsMode.VirtioFs);
        _log.Should().Equal("MakeShare state", "Boot", "CreateSandbox sb");
        booted!.SharedDirectories.Should().Equal(new QemuSharedDirectory("kataShared", "/state/shared"));
        booted.Should().Be(vmOptions with { SharedDirectories = booted.SharedDirectories });
        _agent.LastCreateSandbox!.Storages.Should().Equal(new Storage
        {
            Driver = "virtio-fs", Source = "kataShared", Fstype = "virtiofs", MountPoint = "/run/kata-containers/shared/containers/",
        });
        File.ReadAllText(Path.Combine(_state, "agent-sandbox.json")).Should().Contain("\"rootfsMode\": \"VirtioFs\"");
        await sandbox.DestroyAsync();
    }

    [Fact]
    public async Task A_boot_that_fails_unmounts_the_share()
    {
        var options = new SandboxOptions { Id = "sb", Vm = new QemuOptions { KernelPath = "vmlinuz", InitrdPath = "initrd.img", StateDirectory = _state } };

        var start = async () => await Sandbox.StartCoreAsync(options, (_, _) =>
            Task.FromException<(IVirtualMachine, ISandboxAgent)>(new QemuBootException("no", "console")), CancellationToken.None, _ => _share);

        await start.Should().ThrowAsync<QemuBootException>();
        _log.Should().Equal("UnmountAll");
    }

    [Fact]
    public async Task A_container_s_rootfs_and_host_bind_mounts_are_shared_before_CreateContainer_which_names_their_guest_paths_and_no_storage()
    {
        var sandbox = NewSandbox(hasDns: true);
        var spec = SpecWith(
            new Mount { Destination = "/data", Source = "/srv/data", Type = "bind", Options = { "rbind", "rw" } },
            new Mount { Destination = "/config", Source = "/srv/config", Type = "bind", Options = { "bind", "ro" } },
            new Mount { Destination = "/scratch", Source = "/run/kata-containers/sandbox/storage/scratch", Type = "bind", Options = { "rbind" } });

        await sandbox.CreateContainerAsync("c1", _rootfs, spec, new ContainerOptions { AttachStdio = false });

        _log.Should().Equal("ShareRootfs c1", "ShareVolume c1 /srv/data rw", "ShareVolume c1 /srv/config ro",
            "CreateContainer c1 root=/run/kata-containers/shared/containers/c1/rootfs");
        var request = _agent.LastCreateContainer!;
        request.Storages.Should().BeEmpty("the share is mounted already: Kata sends no storage for a shared rootfs");
        var mounts = request.OCI.Mounts.ToDictionary(m => m.Destination, m => m.Source);
        mounts["/data"].Should().Be("/run/kata-containers/shared/containers/c1-0000000000000001-data");
        mounts["/config"].Should().Be("/run/kata-containers/shared/containers/c1-0000000000000002-config");
        mounts["/scratch"].Should().Be("/run/kata-containers/sandbox/storage/scratch", "a guest path is the guest's");
        mounts["/etc/resolv.conf"].Should().Be(Sandbox.GuestResolvConfPath);
        spec.Mounts.Single(m => m.Destination == "/data").Source.Should().Be("/srv/data", "the caller's spec is not changed");
        spec.Root.Path.Should().Be("rootfs");
    }

    [Fact]
    public async Task A_bind_that_fails_unshares_what_was_shared_and_sends_nothing()
    {
        var sandbox = NewSandbox();
        _share.ShareVolumeFailure = new ShareException("bind refused");

        var create = async () => await sandbox.CreateContainerAsync("c1", _rootfs, SpecWith(new Mount { Destination = "/data", Source = "/srv/data", Type = "bind" }));

        await create.Should().ThrowAsync<ShareException>();
        _log.Should().Equal("ShareRootfs c1", "ShareVolume c1 /srv/data rw", "Unshare c1");
    }

    [Fact]
    public async Task A_refused_CreateContainer_unshares_the_rootfs()
    {
        var sandbox = NewSandbox();
        _agent.Refuse["CreateContainer"] = AgentStatusCode.InvalidArgument;

        var create = async () => await sandbox.CreateContainerAsync("c1", _rootfs, SpecWith());

        await create.Should().ThrowAsync<AgentStatusException>();
        _log.Should().Equal("ShareRootfs c1", "CreateContainer c1 root=/run/kata-containers/shared/containers/c1/rootfs", "Unshare c1");
        _share.Has("c1").Should().BeFalse();
    }

    [Fact]
    public async Task A_used_container_id_is_refused_before_anything_is_shared()
    {
        var sandbox = NewSandbox();
        await CreateAsync(sandbox, "c1");

        var create = async () => await sandbox.CreateContainerAsync("c1", _rootfs, SpecWith());

        (await create.Should().ThrowAsync<ArgumentException>()).Which.ParamName.Should().Be("containerId");
        _log.Should().BeEmpty();
    }

    [Fact]
    public async Task Removing_a_container_asks_the_agent_first_then_unshares_then_has_the_guest_drop_stale_share_mounts()
    {
        var sandbox = NewSandbox();
        var container = await CreateAsync(sandbox, "c1");

        await container.RemoveAsync(TimeSpan.FromSeconds(7));

        _log.Should().Equal("RemoveContainer c1 timeout=7s", "Unshare c1", "RemoveStaleVirtiofsShareMounts");
    }

    [Fact]
    public async Task A_refused_RemoveContainer_leaves_the_share_as_it_is()
    {
        var sandbox = NewSandbox();
        var container = await CreateAsync(sandbox, "c1");
        _agent.Refuse["RemoveContainer"] = AgentStatusCode.DeadlineExceeded;

        var remove = async () => await container.RemoveAsync();

        await remove.Should().ThrowAsync<AgentStatusException>();
        _log.Should().Equal("RemoveContainer c1 timeout=10s");
        _share.Has("c1").Should().BeTrue("the container may still run from it");
    }

    [Fact]
    public async Task Destroy_unmounts_the_whole_share_after_the_VM_is_gone_and_before_the_state_is_deleted()
    {
        var sandbox = NewSandbox();
        await CreateAsync(sandbox, "c1");

        await sandbox.DestroyAsync();

        _log.Should().Equal("RemoveContainer c1 timeout=10s", "DestroySandbox", "Stop grace=20s", "UnmountAll", "Dispose");
        Directory.Exists(_state).Should().BeFalse();
    }

    [Fact]
    public async Task Disposing_an_owned_sandbox_unmounts_the_share_too_and_a_detached_one_leaves_it()
    {
        var owned = NewSandbox(ownsVm: true);
        await CreateAsync(owned, "c1");
        await owned.DisposeAsync();
        _log.Should().Equal("Stop grace=0s", "UnmountAll", "Dispose");

        _log.Clear();
        Directory.CreateDirectory(_state);
        var detached = new Sandbox("sb2", new FakeVirtualMachine(_state, _log), _agent, ownsVm: false, hasDns: false, share: _share);
        await detached.DisposeAsync();
        _log.Should().Equal("Close");
    }

    [Fact]
    public async Task A_dead_virtiofsd_stops_the_VM_and_fails_pending_and_later_calls_naming_it()
    {
        var sandbox = NewSandbox();
        await CreateAsync(sandbox, "c1");
        var neverAnswered = new TaskCompletionSource();
        _agent.HoldCreateContainer = neverAnswered.Task;
        var pending = sandbox.CreateContainerAsync("c2", _rootfs, SpecWith(), new ContainerOptions { AttachStdio = false });
        await WaitForAsync(() => _log.Contains("CreateContainer c2 (no answer)"));

        _vm.VirtiofsdFailureSource.SetResult(new VirtiofsdExit("kataShared", "/state/shared", 137, "virtio_session_mount: Waiting for vhost-user socket connection..."));

        var error = (await FluentActions.Awaiting(() => pending).Should().ThrowAsync<ShareException>()).Which;
        error.Message.Should().Contain("virtiofsd").And.Contain("kataShared").And.Contain("code 137");
        error.Kind.Should().Be(KataAgentErrorKind.Share);
        await WaitForAsync(() => _log.Contains("Stop grace=0s"));
        _vm.IsRunning.Should().BeFalse();
        sandbox.Failure.Should().BeSameAs(error);
        var later = async () => await sandbox.CreateContainerAsync("c3", _rootfs, SpecWith());
        (await later.Should().ThrowAsync<ShareException>()).Which.Should().BeSameAs(error);
        var remove = async () => await sandbox.RemoveContainerAsync("c1");
        (await remove.Should().ThrowAsync<ShareException>()).Which.Should().BeSameAs(error);
        _log.Should().NotContain("ShareRootfs c3");

        _log.Clear();
        await sandbox.DestroyAsync();
        _log.Should().Contain("UnmountAll").And.NotContain("DestroySandbox", "the VM is stopped already");
        Directory.Exists(_state).Should().BeFalse();
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the condition should hold within 10 s");
            await Task.Delay(10);
        }
    }
}
