using FluentAssertions;
using KataAgent.Agent.Network;
using KataAgent.Agent.Devices;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Netlink;

/// <summary>PCI paths ("02/01") resolved to interface names in a fake sysfs tree (parsing itself: StorageDrivers/PciPathTests).</summary>
public class PciNetInterfaceLocatorTests
{
    [Fact]
    public async Task The_interface_behind_a_bridge_is_found_under_virtio_net()
    {
        using var sysfs = new TempDirectory();
        string root = Path.Combine(sysfs.Path, "devices", "pci0000:00");
        string bridge = Path.Combine(root, "0000:00:02.0");
        Directory.CreateDirectory(Path.Combine(bridge, "pci_bus", "0000:01"));
        string nic = Path.Combine(bridge, "0000:01:01.0");
        var locator = new PciNetInterfaceLocator(new PciSysfs(sysfs.Path));
        var path = PciPath.Parse("02/01");

        locator.Find(path).Should().BeNull("the NIC is not there yet");
        Directory.CreateDirectory(Path.Combine(nic, "virtio3", "net", "eth1"));
        locator.Find(path).Should().Be("eth1");
        (await locator.WaitAsync(path, TimeSpan.FromSeconds(1), CancellationToken.None)).Should().Be("eth1");

        Directory.CreateDirectory(Path.Combine(root, "0000:00:03.0", "net", "ens3"));
        locator.Find(PciPath.Parse("03")).Should().Be("ens3");
        (await locator.WaitAsync(PciPath.Parse("04"), TimeSpan.FromMilliseconds(120), CancellationToken.None)).Should().BeNull();
    }
}
