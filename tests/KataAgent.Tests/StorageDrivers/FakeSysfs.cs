using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.StorageDrivers;

/// <summary>
/// A sysfs tree in a temp directory with the shape the kernel gives PCI devices: root bus
/// devices/pci0000:00, bridges (PCIe root ports) with their secondary bus under pci_bus/, child
/// devices under their bridge, and virtio-blk disks at virtioN/block/NAME/dev.
/// </summary>
public sealed class FakeSysfs : IDisposable
{
    private readonly TempDirectory _directory = new();
    private int _nextVirtio;

    public FakeSysfs()
    {
        Directory.CreateDirectory(RootBus);
        Directory.CreateDirectory(System.IO.Path.Combine(Root, "bus", "pci"));
    }

    public string Root => _directory.Path;

    public string RootBus => System.IO.Path.Combine(Root, "devices", "pci0000:00");

    /// <summary>A bridge in <paramref name="slot"/> of <paramref name="parent"/> (bus <paramref name="parentBus"/>) whose secondary bus is <paramref name="secondaryBus"/>; returns its directory.</summary>
    public string AddBridge(string parent, string parentBus, int slot, int secondaryBus)
    {
        string bridge = System.IO.Path.Combine(parent, $"{parentBus}:{slot:x2}.0");
        Directory.CreateDirectory(System.IO.Path.Combine(bridge, "pci_bus", $"0000:{secondaryBus:x2}"));
        return bridge;
    }

    /// <summary>A virtio-blk PCI function in <paramref name="slot"/> of bus <paramref name="bus"/> under <paramref name="parent"/>, with disk <paramref name="name"/>.</summary>
    public string AddVirtioBlock(string parent, string bus, int slot, string name, int major, int minor)
    {
        string device = System.IO.Path.Combine(parent, $"{bus}:{slot:x2}.0");
        string disk = System.IO.Path.Combine(device, $"virtio{_nextVirtio++}", "block", name);
        Directory.CreateDirectory(disk);
        File.WriteAllText(System.IO.Path.Combine(disk, "dev"), $"{major}:{minor}\n");
        return device;
    }

    /// <summary>What the locator wrote to bus/pci/rescan, or null.</summary>
    public string? RescanRequest
    {
        get
        {
            string file = System.IO.Path.Combine(Root, "bus", "pci", "rescan");
            return File.Exists(file) ? File.ReadAllText(file) : null;
        }
    }

    public void Dispose() => _directory.Dispose();
}
