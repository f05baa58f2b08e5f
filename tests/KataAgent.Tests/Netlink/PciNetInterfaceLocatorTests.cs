using FluentAssertions;
using KataAgent.Agent.Network;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Netlink;

/// <summary>PCI paths ("02/01") resolved to interface names in a fake sysfs tree.</summary>
public class PciNetInterfaceLocatorTests
{
    [Theory]
    [InlineData("02", new[] { 2 })]
    [InlineData("02/01", new[] { 2, 1 })]
    [InlineData("1f/0a/3", new[] { 0x1f, 0x0a, 3 })]
    public void Pci_paths_parse_as_hex_slots(string text, int[] slots)
    {
        PciPath.TryParse(text, out var path).Should().BeTrue();
        path.Slots.Should().Equal(slots);
    }

    [Theory]
    [InlineData("")]
    [InlineData("zz")]
    [InlineData("20")]
    [InlineData("02//01")]
    [InlineData("123")]
    public void Bad_pci_paths_are_refused(string text) => PciPath.TryParse(text, out _).Should().BeFalse();

    [Fact]
    public async Task The_interface_behind_a_bridge_is_found_under_virtio_net()
    {
        using var sysfs = new TempDirectory();
        string root = Path.Combine(sysfs.Path, "pci0000:00");
        string bridge = Path.Combine(root, "0000:00:02.0");
        Directory.CreateDirectory(Path.Combine(bridge, "pci_bus", "0000:01"));
        string nic = Path.Combine(bridge, "0000:01:01.0");
        var locator = new PciNetInterfaceLocator(root);
        PciPath.TryParse("02/01", out var path);

        locator.Find(path).Should().BeNull("the NIC is not there yet");
        Directory.CreateDirectory(Path.Combine(nic, "virtio3", "net", "eth1"));
        locator.Find(path).Should().Be("eth1");
        (await locator.WaitAsync(path, TimeSpan.FromSeconds(1), CancellationToken.None)).Should().Be("eth1");

        Directory.CreateDirectory(Path.Combine(root, "0000:00:03.0", "net", "ens3"));
        PciPath.TryParse("03", out var direct);
        locator.Find(direct).Should().Be("ens3");
        PciPath.TryParse("04", out var missing);
        (await locator.WaitAsync(missing, TimeSpan.FromMilliseconds(120), CancellationToken.None)).Should().BeNull();
    }
}
