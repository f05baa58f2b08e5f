using FluentAssertions;
using KataAgent.Host.Vm;
using KataAgent.Testing.FloorInit;
using KataAgent.Testing.Kernel;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Bench;

/// <summary>
/// The boot benchmark's floor (tests/KataAgent.Testing/FloorInit): its C /init compiles statically,
/// packs with only the virtio-serial modules, and, booted with QemuVm's command line, loads them,
/// finds the agent channel by name and writes "ready", then the guest's uptime and memory, to it.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class FloorInitBootTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Floor_init_loads_the_virtio_serial_modules_and_writes_ready_to_the_agent_channel()
    {
        HostTools.RequireQemu();
        HostTools.Require("gcc", "gcc libc6-dev");
        var image = await FloorInitrd.BuildAsync(kernel.Modules, _temp.File("floor.img"), _temp.File("floor"));
        output.WriteLine(image.Describe());
        image.Libraries.Should().BeEmpty("the floor init is static");
        image.Modules.Select(m => m.Name).Should().Contain(["virtio_pci", "virtio_console"]);
        ModuleOrder.ShouldBeInDependencyOrder(image.Modules);

        string state = _temp.File("vm");
        var boot = await FloorVm.BootAsync(VmOptions.Boot(kernel, image.Path, state) with
        {
            AgentTimeout = TimeSpan.FromSeconds(120),
        });

        output.WriteLine($"floor ready after {boot.ToReady.TotalSeconds:0.00} s (guest uptime {boot.GuestUptime.TotalSeconds:0.00} s); MemTotal {boot.MemTotalKiB} kB, MemAvailable {boot.MemAvailableKiB} kB");
        boot.MemTotalKiB.Should().BeInRange(256 * 1024, 512 * 1024, "the VM has 512 MiB, less what the kernel reserves");
        boot.MemAvailableKiB.Should().BeInRange(1, boot.MemTotalKiB);
        boot.GuestUptime.Should().BePositive("the floor init read /proc/uptime after mounting /proc");
        Directory.Exists(state).Should().BeFalse("the floor VM is stopped and its state removed");
    }
}
