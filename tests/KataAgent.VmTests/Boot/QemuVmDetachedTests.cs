using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>A detached VM outlives the object that started it, is found again from its state directory, and stops cleanly.</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class QemuVmDetachedTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Detached_VM_survives_dispose_is_attached_again_and_StopAsync_leaves_no_qemu_sockets_or_state()
    {
        HostTools.RequireQemu();
        string state = _temp.File("vm");

        int pid;
        await using (var started = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, state)) with
        {
            Detached = true,
            DebugConsole = true,
        }))
        {
            pid = started.ProcessId;
            output.WriteLine($"boot to ready: {started.BootToReady.TotalSeconds:0.0} s, qemu pid {pid}");
            ProcessState.ParentOf(pid).Should().NotBe(Environment.ProcessId, "a detached qemu is daemonized, not our child");
            File.Exists(Path.Combine(state, "vm.json")).Should().BeTrue();
            File.Exists(started.DebugConsoleSocketPath).Should().BeTrue("the debug console port's socket is served by qemu");
            File.ReadAllText($"/proc/{pid}/cmdline").Should().Contain("agent.debug_console");
        }

        ProcessState.IsRunning(pid).Should().BeTrue("disposing the starter leaves a detached VM running");
        try
        {
            await using (var attached = await QemuVm.AttachAsync(state))
            {
                attached.ProcessId.Should().Be(pid);
                attached.Detached.Should().BeTrue();
                (await attached.Agent.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.InitDaemon.Should().BeTrue();
                (await attached.Qmp.ExecuteAsync("query-status")).GetProperty("status").GetString().Should().Be("running");

                await attached.StopAsync(TimeSpan.Zero);

                attached.IsRunning.Should().BeFalse();
                ProcessState.IsRunning(pid).Should().BeFalse("StopAsync returns once qemu is gone");
            }
        }
        finally
        {
            // A detached VM outlives the test unless something stops it.
            ProcessState.Kill(pid, state);
        }

        Directory.Exists(state).Should().BeFalse("disposing a stopped VM removes its state directory, sockets included");
        var again = async () => await QemuVm.AttachAsync(state);
        (await again.Should().ThrowAsync<VmException>()).Which.Message.Should().Contain("no VM in");
    }
}
