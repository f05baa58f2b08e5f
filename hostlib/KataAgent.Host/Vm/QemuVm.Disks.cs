using System.Globalization;
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
    /// <exception cref="VmException">Every hot-plug port is taken (see <see cref="QemuOptions.HotplugSlots"/>).</exception>
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

    /// <summary>
    /// Hot-unplugs the disk at <paramref name="pciPath"/> (one <see cref="AddDiskAsync"/> returned, or one of
    /// <see cref="DiskPciPaths"/>): QMP <c>device_del</c>, then waits for qemu's <c>DEVICE_DELETED</c> (the guest
    /// has released the device), then <c>blockdev-del</c>, which closes the image. Its root port is free for
    /// <see cref="AddDiskAsync"/> again (a cold-plugged disk's port stays unused: hot-plugs go to the hot-plug
    /// ports). Whatever uses the disk in the guest should have let go first (the agent unmounts a container's
    /// <c>blk</c> storage in RemoveContainer); the guest does not refuse, its users just lose the device.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="pciPath"/> is not the PCI path of one of this VM's root ports.</exception>
    /// <exception cref="VmException">There is no disk at <paramref name="pciPath"/>.</exception>
    /// <exception cref="VmException">The guest did not release the device within <see cref="QemuOptions.UnplugTimeout"/>.
    /// qemu may still finish later; calling again then only closes the image.</exception>
    public async Task RemoveDiskAsync(string pciPath, CancellationToken cancellationToken = default)
    {
        int port = RootPortOf(pciPath);
        string id = DiskId(port);
        await _hotplugLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool deviceWasThere = await UnplugDeviceAsync(id, $"the disk at PCI path {pciPath}", "the image stays open until RemoveDiskAsync is called again after the guest lets go", cancellationToken).ConfigureAwait(false);
            try
            {
                await Qmp.ExecuteAsync("blockdev-del", new JsonObject { ["node-name"] = id }, cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException e) when (!deviceWasThere)
            {
                throw new VmException($"no disk at PCI path {pciPath}: neither device nor image node '{id}' exists", e);
            }
        }
        finally
        {
            _hotplugLock.Release();
        }
    }

    /// <summary>The disks attached right now (cold- and hot-plugged), from QMP <c>query-block</c>: the truth even for an attached VM.</summary>
    public async Task<IReadOnlyList<QemuAttachedDisk>> QueryDisksAsync(CancellationToken cancellationToken = default)
    {
        var blocks = await Qmp.ExecuteAsync("query-block", cancellationToken: cancellationToken).ConfigureAwait(false);
        var disks = new List<QemuAttachedDisk>();
        foreach (var block in blocks.EnumerateArray())
        {
            // Our devices are /machine/peripheral/disk<port>/virtio-backend (the id DiskId gives them).
            if (block.TryGetProperty("inserted", out var inserted) && block.TryGetProperty("qdev", out var qdev)
                && qdev.GetString() is { } path && path.Split('/') is [_, "machine", "peripheral", var device, ..]
                && device.StartsWith("disk", StringComparison.Ordinal)
                && int.TryParse(device.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int port))
            {
                disks.Add(new QemuAttachedDisk(PciPath(port), inserted.GetProperty("file").GetString() ?? "", inserted.GetProperty("ro").GetBoolean()));
            }
        }
        return [.. disks.OrderBy(d => d.PciPath, StringComparer.Ordinal)];
    }

    /// <summary>
    /// QMP <c>device_del</c> of <paramref name="id"/>, then waits for its <c>DEVICE_DELETED</c> (the guest let go).
    /// Returns false when the device was gone already (an earlier unplug finished after its wait timed out), so
    /// only the backend (image, chardev) is left to close. Called under the hot-plug lock.
    /// </summary>
    private async Task<bool> UnplugDeviceAsync(string id, string what, string afterwards, CancellationToken cancellationToken)
    {
        // Events carry qemu's wall-clock time: one left over from an earlier, timed-out unplug of the
        // same device must not be taken for this one's.
        var requested = DateTimeOffset.UtcNow.AddMilliseconds(-10);
        try
        {
            await Qmp.ExecuteAsync("device_del", new JsonObject { ["id"] = id }, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException e) when (e.ErrorClass == "DeviceNotFound")
        {
            return false;
        }
        catch (QmpException e) when (e.Description.Contains("already in the process of unplug", StringComparison.Ordinal))
        {
            // An earlier request is still pending in the guest: its DEVICE_DELETED is what to wait for.
            requested = DateTimeOffset.MinValue;
        }
        await WaitForDeviceDeletedAsync(id, what, afterwards, requested, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task WaitForDeviceDeletedAsync(string id, string what, string afterwards, DateTimeOffset requested, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.UnplugTimeout);
        try
        {
            // qemu also reports the device's virtio backend, without a "device" member: matching the id skips it.
            await Qmp.WaitForEventAsync("DEVICE_DELETED", e => e.DataString("device") == id && e.Timestamp >= requested, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new VmException($"the guest did not release {what} (qemu device '{id}') within {_options.UnplugTimeout.TotalSeconds:0.#} s "
                + $"(QemuOptions.UnplugTimeout): no DEVICE_DELETED from qemu; {afterwards}");
        }
    }

    /// <summary>The root port a PCI path of ours names: "XX/00" with XX one of our root ports' slots.</summary>
    private int RootPortOf(string pciPath)
    {
        ArgumentNullException.ThrowIfNull(pciPath);
        int ports = _options.Disks.Count + _options.HotplugSlots;
        if (pciPath.Length == 5 && pciPath.EndsWith("/00", StringComparison.Ordinal)
            && int.TryParse(pciPath.AsSpan(0, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int slot)
            && slot - FirstRootPortSlot is var port && port >= 0 && port < ports)
        {
            return port;
        }
        throw new ArgumentException($"'{pciPath}' is not the PCI path of a disk of this VM: expected \"XX/00\" with XX one of the root port slots {PciPath(0)[..2]}..{PciPath(ports - 1)[..2]}", nameof(pciPath));
    }

    /// <summary>
    /// The lowest hot-plug root port with nothing behind it and no image node left under its disk's name (one whose
    /// unplug timed out and was not finished with <see cref="RemoveDiskAsync"/>: blockdev-add would refuse the name).
    /// </summary>
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
        var nodes = await Qmp.ExecuteAsync("query-named-block-nodes", cancellationToken: cancellationToken).ConfigureAwait(false);
        var nodeNames = nodes.EnumerateArray().Select(n => n.TryGetProperty("node-name", out var name) ? name.GetString() : null).ToHashSet(StringComparer.Ordinal);
        int first = _options.Disks.Count;
        for (int port = first; port < first + _options.HotplugSlots; port++)
        {
            if (occupied.TryGetValue(RootPortId(port), out bool taken) && !taken && !nodeNames.Contains(DiskId(port)))
            {
                return port;
            }
        }
        throw new VmException($"no free hot-plug slot: all {_options.HotplugSlots} are in use (QemuOptions.HotplugSlots)");
    }
}
