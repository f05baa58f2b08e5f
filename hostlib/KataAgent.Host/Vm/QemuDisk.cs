namespace KataAgent.Host.Vm;

/// <summary>A disk image attached to the guest as a virtio-blk PCI device.</summary>
/// <param name="ImagePath">The image file on the host.</param>
/// <param name="ReadOnly">Attach it read-only (the guest sees a read-only block device).</param>
/// <param name="Format">qemu's block format driver for the image: "raw" (the default) or "qcow2".</param>
public sealed record QemuDisk(string ImagePath, bool ReadOnly = false, string Format = "raw");
