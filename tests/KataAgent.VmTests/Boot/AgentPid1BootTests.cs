using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>
/// The real thing: the published agent as /init of the image, booted under qemu (TCG) by the host
/// library's launcher, serving the agent API on a virtio-serial port. The agent mounts the guest's
/// filesystems, loads the image's modules, reads its configuration from the kernel command line,
/// spawns its helpers (the reaper must see their exits as PID 1, where .NET would otherwise reap
/// them itself) and powers the VM off after DestroySandbox.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class AgentPid1BootTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Agent_boots_as_pid_1_answers_over_virtio_serial_and_powers_off_after_DestroySandbox()
    {
        HostTools.RequireQemu();

        await using var vm = await QemuVm.StartAsync((await VmOptions.AgentAsync(kernel, _temp.File("vm"))) with
        {
            KernelArguments = ["agent.log=debug", "agent.frobnicate"],
        });
        output.WriteLine($"agent answered Check {vm.BootToReady.TotalSeconds:0.0} s after qemu started");
        var details = await vm.Agent.GetGuestDetailsAsync(new GuestDetailsRequest { MemBlockSize = true });
        details.AgentDetails.InitDaemon.Should().BeTrue("the agent is PID 1 of the guest");
        (await vm.Agent.GetMetricsAsync(new GetMetricsRequest())).Metrics_.Should().Contain("kata_guest_meminfo{item=\"mem_total\"}");
        (await vm.Agent.VersionAsync()).AgentVersion.Should().Be(details.AgentDetails.Version);
        await vm.Agent.CreateSandboxAsync(new CreateSandboxRequest { Hostname = "vm-pod", SandboxId = "vm", SandboxPidns = true });
        await vm.Agent.DestroySandboxAsync(new DestroySandboxRequest());

        var exited = await vm.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        string log = vm.ConsoleTail(200);
        output.WriteLine(log);
        exited.ExitCode.Should().Be(0, "the agent powers the VM off after DestroySandbox");
        log.Should().Contain("ignoring unknown kernel command-line option agent.frobnicate");
        log.Should().Contain("serving the Kata agent API on serial://agent.channel.0 (pid 1)");
        log.Should().Contain("sandbox vm created").And.Contain("powering off");
        log.Should().NotContain("Kernel panic");
        log.Should().NotContain("guest init:", "every mount and module of the image must succeed");
    }
}
