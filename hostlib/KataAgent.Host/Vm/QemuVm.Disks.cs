using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>
    /// Hot-plugs <paramref name="disk"/> as a virtio-blk device into a free hot-plug root port (QMP
    /// <c>blockdev-add</c>, then <c>device_add</c>) and returns its PCI path, which the agent's <c>blk</c>
    /// storage driver waits for. Which ports are free is asked from qemu (<c>query-pci</c>), so it is right
    /// for an attached VM too.
    /// </summary>
    /// <exception cref="InvalidOperationException">Every hot-plug port is taken (see <see cref="QemuOptions.HotplugSlots"/>).</exception>
    /// <exception cref="QmpException">qemu refused the disk (unreadable image, wrong format, …).</exception>
    public async Task<string> AddDiskAsync(QemuDisk disk, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (!File.Exists(disk.ImagePath))
        {
            throw new FileNotFoundException($"the disk image {disk.ImagePath} does not exist", disk.ImagePath);
        }
        disk = disk with { ImagePath = Path.GetFullPath(disk.ImagePath) };
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int port = await FreeHotplugPortAsync(cancellationToken).ConfigureAwait(false);
            string id = DiskId(port);
            await Qmp.ExecuteAsync("blockdev-add", BlockdevArguments(disk, id), cancellationToken).ConfigureAwait(false);
            try
            {
                await Qmp.ExecuteAsync("device_add", new JsonObject
                {
                    ["driver"] = "virtio-blk-pci",
                    ["drive"] = id,
                    ["id"] = id,
                    ["bus"] = RootPortId(port),
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException)
            {
                await Qmp.ExecuteAsync("blockdev-del", new JsonObject { ["node-name"] = id }, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            return PciPath(port);
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>The lowest hot-plug root port with nothing behind it.</summary>
    private async Task<int> FreeHotplugPortAsync(CancellationToken cancellationToken)
    {
        var buses = await Qmp.ExecuteAsync("query-pci", cancellationToken: cancellationToken).ConfigureAwait(false);
        var occupied = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var bus in buses.EnumerateArray())
        {
            foreach (var device in bus.GetProperty("devices").EnumerateArray())
            {
                if (device.TryGetProperty("qdev_id", out var qdev) && device.TryGetProperty("pci_bridge", out var bridge)
                    && bridge.TryGetProperty("devices", out var behind) && behind.ValueKind == JsonValueKind.Array)
                {
                    occupied[qdev.GetString() ?? ""] = behind.GetArrayLength() > 0;
                }
            }
        }
        int first = _options.Disks.Count;
        for (int port = first; port < first + _options.HotplugSlots; port++)
        {
            if (occupied.TryGetValue(RootPortId(port), out bool taken) && !taken)
            {
                return port;
            }
        }
        throw new InvalidOperationException($"no free hot-plug slot: all {_options.HotplugSlots} are in use (QemuOptions.HotplugSlots)");
    }
}
