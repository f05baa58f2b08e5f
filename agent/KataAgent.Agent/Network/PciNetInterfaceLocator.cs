namespace KataAgent.Agent.Network;

/// <summary>
/// Finds the network interface of a (hot-plugged) PCI NIC through sysfs: walks the PCI path from
/// the root bus (each bridge's child bus is the one entry of its pci_bus/ directory), then takes
/// the name under the device's net/ directory (virtio-net puts it under virtioN/net/).
/// </summary>
public sealed class PciNetInterfaceLocator(string rootBusDirectory = PciNetInterfaceLocator.DefaultRootBus)
{
    /// <summary>The root complex of x86_64 q35 and arm64 virt guests.</summary>
    public const string DefaultRootBus = "/sys/devices/pci0000:00";

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls until the device at <paramref name="path"/> has a network interface, or the timeout passes (null).</summary>
    public async Task<string?> WaitAsync(PciPath path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Find(path) is { } name)
            {
                return name;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The interface name of the device at <paramref name="path"/> now, or null.</summary>
    public string? Find(PciPath path)
    {
        string bus = Path.GetFileName(rootBusDirectory)["pci".Length..]; // "0000:00"
        string directory = rootBusDirectory;
        for (int i = 0; i < path.Slots.Count; i++)
        {
            directory = Path.Combine(directory, $"{bus}:{path.Slots[i]:x2}.0");
            if (!Directory.Exists(directory))
            {
                return null;
            }
            if (i < path.Slots.Count - 1)
            {
                string childBuses = Path.Combine(directory, "pci_bus");
                var children = Directory.Exists(childBuses) ? Directory.GetDirectories(childBuses) : [];
                if (children.Length != 1)
                {
                    return null;
                }
                bus = Path.GetFileName(children[0]);
            }
        }
        foreach (string net in Directory.EnumerateDirectories(directory, "virtio*").Prepend(directory).Select(d => Path.Combine(d, "net")))
        {
            if (Directory.Exists(net) && Directory.GetDirectories(net).FirstOrDefault() is { } interfaceDirectory)
            {
                return Path.GetFileName(interfaceDirectory);
            }
        }
        return null;
    }
}
