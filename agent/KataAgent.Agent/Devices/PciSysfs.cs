namespace KataAgent.Agent.Devices;

/// <summary>
/// Finds the sysfs directory of the device a <see cref="PciPath"/> names, the way Kata's agent does:
/// start at root bus 0000:00 (/sys/devices/pci0000:00), and for every bridge on the way read the one
/// entry of its <c>pci_bus/</c> directory to learn the bus number the kernel gave its secondary bus.
/// Child devices live in sysfs under their bridge's directory, so the result is e.g.
/// /sys/devices/pci0000:00/0000:00:10.0/0000:01:00.0. The sysfs root is injectable for tests.
/// </summary>
public sealed class PciSysfs(string sysfsRoot = "/sys")
{
    private const string RootBus = "0000:00";

    public string SysfsRoot { get; } = sysfsRoot;

    /// <summary>/sys/devices/pci0000:00.</summary>
    public string RootBusDirectory => Path.Combine(SysfsRoot, "devices", "pci" + RootBus);

    /// <summary>The file whose write makes the kernel re-enumerate every PCI bus.</summary>
    public string RescanFile => Path.Combine(SysfsRoot, "bus", "pci", "rescan");

    /// <summary>
    /// The device's sysfs directory, or null when some device on the way is not (yet) there;
    /// <paramref name="missing"/> then says which part is missing, for an error message.
    /// </summary>
    public string? FindDevice(PciPath path, out string? missing)
    {
        string bus = RootBus;
        string directory = RootBusDirectory;
        for (int i = 0; i < path.Slots.Count; i++)
        {
            string device = Path.Combine(directory, $"{bus}:{path.Slots[i]:x2}.0");
            if (!Directory.Exists(device))
            {
                missing = device;
                return null;
            }
            if (i == path.Slots.Count - 1)
            {
                missing = null;
                return device;
            }
            string busDirectory = Path.Combine(device, "pci_bus");
            string[] buses = Directory.Exists(busDirectory) ? Directory.GetDirectories(busDirectory) : [];
            if (buses.Length != 1)
            {
                // None: not a bridge, or its secondary bus is not enumerated yet; several: not a PCI-PCI bridge.
                missing = $"{busDirectory} (expected exactly one secondary bus, found {buses.Length})";
                return null;
            }
            bus = Path.GetFileName(buses[0]);
            directory = device;
        }
        missing = "an empty PCI path";
        return null;
    }

    /// <summary>Asks the kernel to re-enumerate the PCI buses (a remedy for a hot-plug event it missed).</summary>
    public void Rescan() => File.WriteAllText(RescanFile, "1");
}
