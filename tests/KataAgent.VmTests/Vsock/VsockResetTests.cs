using System.Text;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Transport;
using KataAgent.Host.Vm;
using KataAgent.Protocols.Agent;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Vsock;

/// <summary>
/// Our vhost-user-vsock backend survives the guest resetting the device: the guest unbinds its virtio-vsock driver
/// (the device is reset: qemu stops the rings, GET_VRING_BASE) and binds it again (a fresh start), and the agent is
/// reachable again through the same hybrid socket; and the same after the whole guest reboots. A VM of its own for
/// each, since a reset cuts every connection.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class VsockResetTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_agent_is_reachable_again_after_the_guest_resets_its_vsock_device()
    {
        HostTools.RequireQemu();
        await using var vm = await QemuVm.StartAsync(VmOptions.Image(_temp.File("vm")) with { DebugConsole = true });
        output.WriteLine($"boot to ready: {vm.BootToReady.TotalSeconds:0.0} s");
        (await vm.Agent.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);

        output.WriteLine(await RunInConsoleAsync(vm, "ls -d /sys/bus/virtio/drivers/*/virtio*; command -v setsid"));

        // From a session of its own, so that it outlives the console whose connection the unbind cuts.
        string reset = "setsid sh -c 'sleep 1; for d in /sys/bus/virtio/drivers/*vsock*/virtio*; do n=${d##*/}; echo $n > ${d%/*}/unbind && echo unbound $n >> /vsock-reset; sleep 2; echo $n > ${d%/*}/bind && echo bound $n >> /vsock-reset; done' </dev/null >/dev/null 2>&1 &";
        await using (var console = await ConnectConsoleAsync(vm))
        {
            await console.WriteAsync(Encoding.ASCII.GetBytes(reset + "\nexit\n"));
            await console.FlushAsync();
            await DrainAsync(console).WaitAsync(Limit);
        }

        // The reset runs a moment later; meanwhile consoles may fail to connect (the driver is away), which the
        // console helper retries.
        string log = "";
        var deadline = DateTime.UtcNow + Limit;
        while (!System.Text.RegularExpressions.Regex.IsMatch(log, @"bound virtio\d+\s+bound virtio\d+") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000);
            log = await RunInConsoleAsync(vm, "cat /vsock-reset");
        }
        output.WriteLine(log);
        log.Should().MatchRegex(@"unbound virtio\d+\s+bound virtio\d+", "the device really went away and came back");

        // Through the same backend and hybrid socket: a new connection after the reset.
        await using var again = await AgentClient.ConnectAsync(vm.AgentAddress, new AgentClientOptions { ConnectTimeout = Limit, RetryInterval = TimeSpan.FromMilliseconds(200) });
        (await again.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        (await again.GetGuestDetailsAsync(new GuestDetailsRequest())).AgentDetails.InitDaemon.Should().BeTrue();
    }

    [Fact]
    public async Task The_agent_is_reachable_again_through_the_same_backend_after_the_guest_reboots()
    {
        HostTools.RequireQemu();
        await using var vm = await QemuVm.StartAsync(VmOptions.Image(_temp.File("reboot")) with { DebugConsole = true, AllowReboot = true });
        string? bootBefore = await BootIdAsync(vm);
        bootBefore.Should().NotBeNull("the console printed the guest's boot id");
        int qemu = vm.ProcessId;

        // A reset of the whole machine: the guest boots again in the same qemu, and qemu resets the vsock device
        // (GET_VRING_BASE) before the new kernel's driver starts it again through the same backend.
        await vm.Qmp.ExecuteAsync("system_reset");

        await using var again = await AgentClient.ConnectAsync(vm.AgentAddress, new AgentClientOptions { ConnectTimeout = Limit, RetryInterval = TimeSpan.FromMilliseconds(200) });
        (await again.Health.CheckAsync(new CheckRequest())).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        string? bootAfter = null;
        var deadline = DateTime.UtcNow + Limit;
        while (bootAfter is null && DateTime.UtcNow < deadline)
        {
            bootAfter = await BootIdAsync(vm);
        }
        output.WriteLine($"boot ids: {bootBefore} then {bootAfter}");
        bootAfter.Should().NotBeNull().And.NotBe(bootBefore, "the guest really booted again");
        vm.ProcessId.Should().Be(qemu);
        vm.IsRunning.Should().BeTrue("qemu outlives its guest's reboot when AllowReboot is set");
    }

    /// <summary>The guest kernel's boot id, read through the debug console; null when the console gave none.</summary>
    private static async Task<string?> BootIdAsync(QemuVm vm)
    {
        var match = System.Text.RegularExpressions.Regex.Match(await RunInConsoleAsync(vm, "cat /proc/sys/kernel/random/boot_id"),
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
        return match.Success ? match.Value : null;
    }

    private static async Task<Stream> ConnectConsoleAsync(QemuVm vm)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (true)
        {
            try
            {
                return await AgentConnectors.For(vm.DebugConsoleAddress!, new AgentClientOptions()).ConnectAsync(CancellationToken.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // The driver may still be coming back.
                await Task.Delay(500);
            }
        }
    }

    private static async Task<string> RunInConsoleAsync(QemuVm vm, string command)
    {
        await using var console = await ConnectConsoleAsync(vm);
        await console.WriteAsync(Encoding.ASCII.GetBytes(command + "\nexit\n"));
        return await DrainAsync(console).WaitAsync(Limit);
    }

    private static async Task<string> DrainAsync(Stream stream)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        catch (IOException)
        {
            // The reset cut the console connection: that is the point.
        }
        return text.ToString();
    }
}
