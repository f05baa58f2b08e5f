using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Testing;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// The virtiofsds a VM owns, on a real qemu (TCG): one killed while the VM runs is reported by the VM (tag, exit code,
/// log tail), promptly and without a hang, and the VM still stops; a detached VM's virtiofsd outlives its starter,
/// an attach finds its shares again, and <see cref="QemuVm.KillAsync"/> leaves no virtiofsd, socket or lock file.
/// </summary>
public sealed class QemuVmVirtiofsdLifecycleTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private QemuOptions Options(string state, params QemuSharedDirectory[] shares) => new()
    {
        KernelPath = RepoPaths.Kernel,
        InitrdPath = RepoPaths.Initrd,
        StateDirectory = state,
        SharedDirectories = shares,
        // A detached VM's vsock backend runs as a process of its own (kactl's hidden verb).
        VsockBackendCommand = VmOptions.VsockBackendCommand,
    };

    private QemuSharedDirectory Share(string tag)
    {
        string directory = _temp.File(tag);
        Directory.CreateDirectory(directory);
        return new QemuSharedDirectory(tag, directory);
    }

    [Fact]
    public async Task A_virtiofsd_killed_while_the_vm_runs_is_reported_and_the_stopped_vm_leaves_no_virtiofsd_or_socket()
    {
        HostTools.RequireQemu();
        string state = _temp.File("vm");
        await using var vm = await QemuVm.StartAsync(Options(state, Share("victim"), Share("bystander")));
        output.WriteLine($"boot to ready: {vm.BootToReady.TotalSeconds:0.0} s");
        vm.VirtiofsdFailure.IsCompleted.Should().BeFalse();
        int victim = int.Parse(await File.ReadAllTextAsync(Path.Combine(state, "virtiofsd-victim.pid")));
        File.Exists(vm.VirtiofsdLogPath("victim")).Should().BeTrue();

        Directory.Exists($"/proc/{victim}").Should().BeTrue();
        System.Diagnostics.Process.GetProcessById(victim).Kill();

        var failure = await vm.VirtiofsdFailure.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine(failure.Message);
        failure.Tag.Should().Be("victim");
        failure.ExitCode.Should().Be(137, "SIGKILL, as this process, its parent, sees it");
        failure.Message.Should().Contain("'victim'").And.Contain("exited with code 137").And.Contain("--- last virtiofsd log lines ---");
        failure.LogTail.Should().Contain("Waiting for vhost-user socket connection", "virtiofsd's own log lines are in the tail");
        failure.ToException().Should().BeOfType<VmException>();

        var stop = vm.StopAsync(TimeSpan.Zero);
        await stop.WaitAsync(TimeSpan.FromSeconds(60));
        VirtiofsdProcesses.In(state).Should().BeEmpty("the bystander's virtiofsd ends with the VM");
        Directory.EnumerateFileSystemEntries(state, "vfs-*.sock").Should().BeEmpty();
        File.Exists(VirtiofsdProcesses.LockFileFor(Path.Combine(state, "vfs-bystander.sock"))).Should().BeFalse();
        File.Exists(VirtiofsdProcesses.LockFileFor(Path.Combine(state, "vfs-victim.sock"))).Should().BeFalse();
    }

    [Fact]
    public async Task A_detached_vms_virtiofsd_outlives_its_starter_an_attach_knows_its_shares_and_KillAsync_leaves_none()
    {
        HostTools.RequireQemu();
        string state = _temp.File("detached");
        var share = Share("detachedShare");
        var started = await QemuVm.StartAsync(Options(state, share) with { Detached = true });
        await started.DisposeAsync();
        VirtiofsdProcesses.In(state).Should().NotBeEmpty("a detached VM keeps its virtiofsd running");

        await using (var attached = await QemuVm.AttachAsync(state))
        {
            attached.SharedDirectories.Should().Equal(share);
            (await attached.Agent.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.StorageHandlers.Should().Contain("virtio-fs");
            attached.VirtiofsdFailure.IsCompleted.Should().BeFalse("its virtiofsd was found running");
        }

        (await QemuVm.KillAsync(state)).Should().BeTrue();

        VirtiofsdProcesses.In(state).Should().BeEmpty();
        Directory.EnumerateFileSystemEntries(state, "vfs-*.sock").Should().BeEmpty();
        File.Exists(VirtiofsdProcesses.LockFileFor(Path.Combine(state, "vfs-detachedShare.sock"))).Should().BeFalse();
        QemuVm.DeleteStaleState(state).Should().BeTrue();
    }
}
