namespace KataAgent.Host.Vm;

/// <summary>
/// The devices hot-plugged into a running VM, as a restore must put them on qemu's command line so that the incoming
/// state finds every device it describes (qemu loads state into devices; it does not make them).
/// </summary>
internal sealed record QemuHotplugState
{
    public IReadOnlyList<QemuHotplugCpu> Cpus { get; init; } = [];

    public IReadOnlyList<QemuHotplugDimm> Dimms { get; init; } = [];

    public IReadOnlyList<QemuHotplugDisk> Disks { get; init; } = [];
}

/// <summary>A device_add'ed vCPU: its driver, id, and slot properties (socket-id, core-id, thread-id, node-id).</summary>
internal sealed record QemuHotplugCpu(string Driver, string Id, IReadOnlyDictionary<string, long> Properties);

/// <summary>A pc-dimm, its memfd backend's size, and where it sits (guest address and slot) so that the guest's memory map is the same.</summary>
internal sealed record QemuHotplugDimm(string Id, string Backend, long SizeBytes, long Address, int Slot);

/// <summary>A hot-plugged virtio-blk disk: its root port, image, format and mode.</summary>
internal sealed record QemuHotplugDisk(int Port, string ImagePath, bool ReadOnly, string Format);
