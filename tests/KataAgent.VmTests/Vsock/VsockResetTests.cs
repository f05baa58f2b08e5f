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
/// reachable again through the same hybrid socket. A VM of its own, since the reset cuts every connection.
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
