using FluentAssertions;
using KataAgent.Host.Network;
using KataAgent.Host.Network.Endpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;
using KataAgent.Linux.Interop;
using KataAgent.Testing.Network;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostNetwork;

/// <summary>
/// Endpoint setup and teardown in a CNI-like pod netns (no VM): what each model builds, cross-checked
/// with ip/tc, and the netns exactly as before afterwards, also after a failure half-way.
/// </summary>
public sealed class NetworkEndpointTests : IDisposable
{
    private readonly CniLikePodNetwork _pod = new();
    private readonly TempDirectory _state = new();

    public void Dispose()
    {
        _pod.Dispose();
        _state.Dispose();
    }

    [Fact]
    public async Task Tcfilter_adds_a_tap_with_the_veth_mtu_and_redirects_both_ways_then_leaves_nothing()
    {
        CniLikePodNetwork.Ip("-n", _pod.PodName, "link", "set", "eth0", "mtu", "1450");
        string before = _pod.Snapshot();

        string journal = _state.File("network.json");

        var endpoint = await NetworkEndpoint.SetUpAsync(NetworkModel.TcFilter, _pod.PodPath, _state.Path, journalPath: journal);

        endpoint.Should().BeOfType<TcFilterEndpoint>();
        File.ReadAllText(journal).Should().Contain("\"deleteLink\"").And.Contain("\"deleteIngressQdisc\"").And.Contain(_pod.PodPath);
        var nic = endpoint.Nics.Should().ContainSingle().Subject;
        nic.Device.Mac.Should().Be(CniLikePodNetwork.PodMac, "the guest NIC takes the veth's MAC");
        nic.Device.Netdev.Should().Be("tap,ifname=tap0_kata,script=no,downscript=no,vhost=off");
        string tap = CniLikePodNetwork.Ip("-n", _pod.PodName, "-d", "link", "show", "tap0_kata");
        tap.Should().Contain("mtu 1450").And.Contain(",UP>").And.Contain("tun type tap").And.Contain("persist on")
            .And.NotContain(CniLikePodNetwork.PodMac, "the tap keeps a MAC of its own");
        foreach (var (dev, to) in new[] { ("eth0", "tap0_kata"), ("tap0_kata", "eth0") })
        {
            CniLikePodNetwork.Run("tc", "-n", _pod.PodName, "qdisc", "show", "dev", dev, "ingress").Should().Contain("qdisc ingress ffff:");
            CniLikePodNetwork.Run("tc", "-n", _pod.PodName, "filter", "show", "dev", dev, "ingress")
                .Should().Contain("u32").And.Contain($"action order 1: mirred (Egress Redirect to device {to}) stolen");
        }
        CniLikePodNetwork.Ip("-n", _pod.PodName, "addr", "show", "eth0").Should().Contain(CniLikePodNetwork.PodAddress + "/24", "the veth keeps its address");

        await endpoint.TearDownAsync();

        _pod.DifferencesFrom(before).Should().BeEmpty();
        File.Exists(journal).Should().BeFalse("a complete teardown leaves no journal");
    }

    [Fact]
    public async Task Macvtap_moves_mac_and_addresses_off_the_veth_and_gives_everything_back()
    {
        string before = _pod.Snapshot();

        var endpoint = await NetworkEndpoint.SetUpAsync(NetworkModel.Macvtap, _pod.PodPath, _state.Path);

        var nic = endpoint.Nics.Should().ContainSingle().Subject;
        nic.Device.Mac.Should().Be(CniLikePodNetwork.PodMac);
        nic.Device.OpenFile.Should().MatchRegex("^/dev/tap[0-9]+$");
        File.Exists(nic.Device.OpenFile).Should().BeTrue("the macvtap's character device is what qemu opens");
        int index = int.Parse(nic.Device.OpenFile!["/dev/tap".Length..], System.Globalization.CultureInfo.InvariantCulture);
        index.Should().BeGreaterThanOrEqualTo(8192);
        string macvtap = CniLikePodNetwork.Ip("-n", _pod.PodName, "-d", "link", "show", "tap0_kata");
        macvtap.Should().Contain("macvtap mode bridge").And.Contain(CniLikePodNetwork.PodMac).And.StartWith($"{index}: tap0_kata@eth0");
        string veth = CniLikePodNetwork.Ip("-n", _pod.PodName, "addr", "show", "eth0");
        veth.Should().NotContain(CniLikePodNetwork.PodMac).And.NotContain(CniLikePodNetwork.PodAddress);
        endpoint.AgentRoutes.Should().ContainSingle(r => r.Gateway == CniLikePodNetwork.NodeAddress, "the guest gets the routes as scanned before");

        await endpoint.TearDownAsync();

        _pod.DifferencesFrom(before).Should().BeEmpty();
    }

    [Theory]
    [InlineData(NetworkModel.TcFilter)]
    [InlineData(NetworkModel.Macvtap)]
    public async Task A_failure_on_the_second_interface_undoes_the_first(NetworkModel model)
    {
        _pod.AddSecondInterface();
        // Something already holds the name the second interface's tap needs.
        CniLikePodNetwork.Ip("-n", _pod.PodName, "link", "add", "tap1_kata", "type", "bridge");
        string before = _pod.Snapshot();

        var setUp = () => NetworkEndpoint.SetUpAsync(model, _pod.PodPath, _state.Path);

        (await setUp.Should().ThrowAsync<Exception>()).Which.Message.Should().Contain("tap1_kata");
        _pod.DifferencesFrom(before).Should().BeEmpty();
    }

    [Fact]
    public async Task Passt_runs_in_the_pod_netns_as_nobody_and_is_gone_with_its_files_after_teardown()
    {
        string before = _pod.Snapshot();

        var endpoint = (PasstEndpoint)await NetworkEndpoint.SetUpAsync(NetworkModel.Passt, _pod.PodPath, _state.Path, [new PortForward(8080, 80)]);

        var nic = endpoint.Nics.Should().ContainSingle().Subject;
        nic.Interface.Name.Should().Be("eth0");
        nic.Device.Netdev.Should().Be($"stream,server=off,addr.type=unix,addr.path={endpoint.SocketPath}");
        endpoint.SocketPath.Should().StartWith(PasstEndpoint.RootRuntimeDirectory + "/");
        File.Exists(endpoint.SocketPath).Should().BeTrue("passt listens before its pid file appears");
        CniLikePodNetwork.Run("readlink", $"/proc/{endpoint.ProcessId}/ns/net").Should().Be(CniLikePodNetwork.Run("ip", "netns", "exec", _pod.PodName, "readlink", "/proc/self/ns/net"));
        File.ReadAllText($"/proc/{endpoint.ProcessId}/status").Should().MatchRegex(@"Uid:\s+65534\s");
        CniLikePodNetwork.Run("ip", "netns", "exec", _pod.PodName, "cat", "/proc/sys/net/ipv4/ping_group_range").Trim()
            .Should().Be("65534\t65534", "a fresh netns allows no ping sockets; passt's group gets them");
        CniLikePodNetwork.Run("ip", "netns", "exec", _pod.PodName, "ss", "-Htln").Should().Contain(":8080", "the forwarded port is bound in the pod netns");
        endpoint.AgentNeighbours.Should().BeEmpty("passt answers ARP itself");

        await endpoint.TearDownAsync();

        ProcessState.IsRunning(endpoint.ProcessId).Should().BeFalse("passt is stopped");
        Directory.Exists(Path.GetDirectoryName(endpoint.SocketPath)).Should().BeFalse();
        _pod.DifferencesFrom(before).Should().BeEmpty();
    }

    [Fact]
    public async Task A_passt_that_cannot_start_leaves_the_netns_and_no_journal_behind()
    {
        string before = _pod.Snapshot();
        string journal = _state.File("network.json");
        // The port passt is asked to forward is taken in the pod netns: passt refuses to start, after the
        // endpoint already widened ping_group_range and made passt's directory.
        using var squatter = System.Diagnostics.Process.Start("ip", ["netns", "exec", _pod.PodName, "/bin/busybox", "nc", "-l", "-p", "8080"])!;
        try
        {
            await WaitUntilListeningAsync(8080);

            var setUp = () => NetworkEndpoint.SetUpAsync(NetworkModel.Passt, _pod.PodPath, _state.Path, [new PortForward(8080, 80)], journalPath: journal);

            (await setUp.Should().ThrowAsync<PodNetworkException>()).WithMessage("passt failed to start*8080*");
        }
        finally
        {
            squatter.Kill();
            await squatter.WaitForExitAsync();
        }
        _pod.DifferencesFrom(before).Should().BeEmpty("ping_group_range is restored");
        File.Exists(journal).Should().BeFalse("nothing is left to undo");
    }

    private async Task WaitUntilListeningAsync(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!CniLikePodNetwork.Run("ip", "netns", "exec", _pod.PodName, "ss", "-Htln").Contains($":{port} ", StringComparison.Ordinal))
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"something listens on {port} in the pod netns");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Bad_input_is_refused_before_anything_changes()
    {
        string before = _pod.Snapshot();

        var missing = () => NetworkEndpoint.SetUpAsync(NetworkModel.TcFilter, "/var/run/netns/no-such-pod", _state.Path);
        await missing.Should().ThrowAsync<PodNetworkException>().WithMessage("*does not exist*");
        var ports = () => NetworkEndpoint.SetUpAsync(NetworkModel.TcFilter, _pod.PodPath, _state.Path, [new PortForward(8080, 80)]);
        await ports.Should().ThrowAsync<ArgumentException>().WithMessage("port forwards need the passt model*");
        string sandboxState = _state.File("sandbox");
        var sandbox = () => Sandbox.StartAsync(new SandboxOptions
        {
            Id = "sb",
            Vm = new QemuOptions
            {
                KernelPath = "vmlinuz",
                InitrdPath = "initrd.img",
                StateDirectory = sandboxState,
                NetworkNamespacePath = "/var/run/netns/no-such-pod",
            },
        });
        await sandbox.Should().ThrowAsync<PodNetworkException>().WithMessage("*does not exist*");
        Directory.Exists(sandboxState).Should().BeFalse("a sandbox whose network cannot be set up leaves no state directory");
        var badDns = () => Sandbox.StartAsync(new SandboxOptions
        {
            Id = "sb",
            Dns = ["nameserver 10.0.0.1\nnameserver 10.0.0.2"],
            Vm = new QemuOptions
            {
                KernelPath = "vmlinuz",
                InitrdPath = "initrd.img",
                StateDirectory = sandboxState,
            },
        });
        await badDns.Should().ThrowAsync<ArgumentException>().WithMessage("Dns[0] must be a single resolv.conf line*");
        PortForward.Parse("8080:80").Should().Be(new PortForward(8080, 80));
        PortForward.Parse("53/udp").Should().Be(new PortForward(53, 53, "udp"));
        var badPort = () => PortForward.Parse("70000:80");
        badPort.Should().Throw<FormatException>();

        _pod.DifferencesFrom(before).Should().BeEmpty();
    }
}
