namespace KataAgent.Host.Vm;

/// <summary>A disk qemu has attached to the guest right now, as <see cref="QemuVm.QueryDisksAsync"/> reads it from QMP.</summary>
/// <param name="PciPath">Kata's PCI path of the virtio-blk device, e.g. "12/00".</param>
/// <param name="ImagePath">The image file behind it.</param>
/// <param name="ReadOnly">Whether the guest sees it read-only.</param>
public sealed record QemuAttachedDisk(string PciPath, string ImagePath, bool ReadOnly);
