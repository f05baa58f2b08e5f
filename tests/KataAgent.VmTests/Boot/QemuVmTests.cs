using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.Rootfs.Image;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Boot;

/// <summary>The host library's qemu launcher: boot to a connected agent, teardown, boot failure.</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class QemuVmTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Boots_to_a_connected_agent_and_dispose_leaves_no_qemu_or_state()
    {
        HostTools.RequireQemu();
        string state = _temp.File("vm");

        var vm = await QemuVm.StartAsync(await VmOptions.AgentAsync(kernel, state));
        int qemuPid;
        await using (vm)
        {
            output.WriteLine($"boot to ready: {vm.BootToReady.TotalSeconds:0.0} s (KVM: {vm.UsesKvm})");
            (await vm.Agent.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.InitDaemon.Should().BeTrue();
            qemuPid = int.Parse(File.ReadAllText(Path.Combine(state, "qemu.pid")).Trim());
            Directory.Exists($"/proc/{qemuPid}").Should().BeTrue();
        }

        Directory.Exists($"/proc/{qemuPid}").Should().BeFalse("dispose stops qemu");
        Directory.Exists(state).Should().BeFalse("dispose removes the VM's state directory");
    }

    [Fact]
    public async Task A_kernel_without_the_virtio_modules_fails_with_the_console_tail()
    {
        HostTools.RequireQemu();
        string image = _temp.File("bare.img");
        // No modules at all: the agent starts but no virtio-serial port ever appears.
        await new InitrdBuilder(new InitrdOptions { AgentPath = RepoPaths.AgentBinary, InitHelperPath = RepoPaths.InitHelperBinary, Kernel = kernel.Modules, ModuleNames = [] }).BuildAsync(image);
        string state = _temp.File("bare");

        var start = async () => await QemuVm.StartAsync(VmOptions.Boot(kernel, image, state) with
        {
            // The serial channel, whose missing port the agent names on the console.
            AgentChannel = QemuAgentChannel.Serial,
            AgentTimeout = TimeSpan.FromSeconds(60),
            KernelArguments = ["agent.log=debug"],
        });

        var error = (await start.Should().ThrowAsync<QemuBootException>()).Which;
        output.WriteLine(error.Message);
        error.Message.Should().Contain("did not come up");
        error.ConsoleTail.Should().Contain("no virtio-serial port named 'agent.channel.0'");
        Directory.Exists(state).Should().BeFalse();
    }
}
