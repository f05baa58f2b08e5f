using KataAgent.Agent.Devices;

namespace KataAgent.Agent.Network;

/// <summary>
/// Finds the network interface of a (hot-plugged) PCI NIC: the shared <see cref="PciSysfs"/> walk
/// resolves the PCI path to the device's sysfs directory (the same walk the blk storage driver
/// uses), then the name is the entry under the device's net/ directory (virtio-net puts it under
/// virtioN/net/).
/// </summary>
public sealed class PciNetInterfaceLocator(PciSysfs sysfs)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    public PciNetInterfaceLocator()
        : this(new PciSysfs())
    {
    }

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
        if (sysfs.FindDevice(path, out _) is not { } directory)
        {
            return null;
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
