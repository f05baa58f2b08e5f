using FluentAssertions;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Tests.Infrastructure;
using KataAgent.Tests.Kactl;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>
/// Removing a sandbox by its state directory alone (<see cref="Sandbox.RemoveStaleAsync"/>, <see cref="QemuVm.KillAsync"/>):
/// a fake qemu (a process whose command line names the directory's QMP socket) stands in for the real one.
/// </summary>
public sealed class StaleSandboxTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task<(string Directory, FakeQemuProcess Qemu)> RunningAsync(string name)
    {
        string directory = Directory.CreateDirectory(_temp.File(name)).FullName;
        var qemu = new FakeQemuProcess(directory);
        await qemu.WaitUntilRunningAsync();
        File.WriteAllText(Path.Combine(directory, "qemu.pid"), $"{qemu.ProcessId}\n");
        return (directory, qemu);
    }

    [Fact]
    public async Task RemoveStaleAsync_ends_the_sandboxs_qemu_and_deletes_its_state()
    {
        var (directory, qemu) = await RunningAsync("sb");
        await using var _ = qemu;
        QemuVm.IsRunningIn(directory).Should().BeTrue();

        await Sandbox.RemoveStaleAsync(directory);

        await qemu.Exited.WaitAsync(TimeSpan.FromSeconds(30));
        Directory.Exists(directory).Should().BeFalse();
    }

    [Fact]
    public async Task A_pid_that_is_not_this_VMs_qemu_is_never_signalled()
    {
        var (other, qemu) = await RunningAsync("other");
        await using var _ = qemu;
        string reused = Directory.CreateDirectory(_temp.File("reused")).FullName;
        // Its pid file names a live process, but that is another VM's qemu (as after pid reuse).
        File.WriteAllText(Path.Combine(reused, "qemu.pid"), $"{qemu.ProcessId}\n");

        QemuVm.IsRunningIn(reused).Should().BeFalse();
        (await QemuVm.KillAsync(reused)).Should().BeFalse();

        qemu.Exited.IsCompleted.Should().BeFalse("the other VM's qemu was left alone");
        QemuVm.IsRunningIn(other).Should().BeTrue();
    }

    [Fact]
    public async Task A_network_restore_that_fails_keeps_the_state_directory_for_another_try()
    {
        string directory = Directory.CreateDirectory(_temp.File("net")).FullName;
        File.WriteAllText(Path.Combine(directory, Sandbox.NetworkJournalFileName), "not a journal");

        var remove = async () => await Sandbox.RemoveStaleAsync(directory);

        await remove.Should().ThrowAsync<PodNetworkException>();
        File.Exists(Path.Combine(directory, Sandbox.NetworkJournalFileName)).Should().BeTrue();
        File.Delete(Path.Combine(directory, Sandbox.NetworkJournalFileName));
        await Sandbox.RemoveStaleAsync(directory);
        Directory.Exists(directory).Should().BeFalse();
    }
}
