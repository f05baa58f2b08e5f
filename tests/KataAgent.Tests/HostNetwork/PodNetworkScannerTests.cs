using FluentAssertions;
using KataAgent.Host.Network;
using KataAgent.Protocols.Types;
using KataAgent.Testing.Network;
using Xunit;

namespace KataAgent.Tests.HostNetwork;

/// <summary>Scanning a CNI-made pod netns into the agent's Interface, Route and ARPNeighbor messages.</summary>
public sealed class PodNetworkScannerTests : IDisposable
{
    private readonly CniLikePodNetwork _pod = new();

    public void Dispose() => _pod.Dispose();

    [Fact]
    public void Links_with_addresses_routes_not_from_the_kernel_and_permanent_neighbours_are_found()
    {
        _pod.AddSecondInterface();
        CniLikePodNetwork.Ip("-n", _pod.PodName, "link", "add", "br9", "type", "bridge"); // no address: skipped

        var network = PodNetworkScanner.Scan(_pod.PodPath);

        network.Interfaces.Select(i => i.Name).Should().Equal("eth0", "eth1");
        var eth0 = network.Interfaces[0];
        eth0.Mac.Should().Be(CniLikePodNetwork.PodMac);
        var message = eth0.ToAgentInterface("02:00:00:00:00:01", "14/00", "tap");
        message.Name.Should().Be("eth0");
        message.HwAddr.Should().Be("02:00:00:00:00:01");
        message.DevicePath.Should().Be("14/00");
        message.Mtu.Should().Be(1500);
        message.IPAddresses.Should().ContainSingle().Which.Should().Be(new IPAddress { Family = IPFamily.V4, Address = CniLikePodNetwork.PodAddress, Mask = "24" });

        // The subnet routes are the kernel's (proto kernel): the guest makes its own from the addresses.
        network.Routes.Should().BeEquivalentTo(new[]
        {
            new Route { Dest = "", Gateway = CniLikePodNetwork.NodeAddress, Device = "eth0", Family = IPFamily.V4 },
            new Route { Dest = "10.90.0.0/16", Gateway = "10.89.0.1", Device = "eth1", Family = IPFamily.V4 },
        });
        network.Neighbours.Should().ContainSingle().Which.Should().Be(new ARPNeighbor
        {
            ToIPAddress = new IPAddress { Family = IPFamily.V4, Address = CniLikePodNetwork.NeighbourAddress },
            Device = "eth0",
            Lladdr = CniLikePodNetwork.NeighbourMac,
            State = 0x80,
        });
    }

    [Fact]
    public void A_missing_path_or_a_file_that_is_no_netns_is_a_clear_error()
    {
        var missing = () => PodNetworkScanner.Scan("/var/run/netns/no-such-pod");
        missing.Should().Throw<PodNetworkException>().WithMessage("the network namespace /var/run/netns/no-such-pod does not exist");

        string file = Path.GetTempFileName();
        try
        {
            var notNetns = () => PodNetworkScanner.Scan(file);
            notNetns.Should().Throw<PodNetworkException>().WithMessage($"{file} is not a network namespace");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
