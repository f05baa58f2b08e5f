namespace KataAgent.Agent.Images;

/// <summary>Where a guest pull puts its layers and rootfs.</summary>
/// <param name="PciPath">The scratch disk's PCI path (Kata's format), or null for a tmpfs in guest memory.</param>
/// <param name="MemoryLimitMiB">The tmpfs's size limit in MiB, 0 for the kernel's default (half the RAM).</param>
internal sealed record GuestImageStorage(string? PciPath, uint MemoryLimitMiB)
{
    /// <summary>A tmpfs of the kernel's default size: Kata's image_guest_pull storage, which names none.</summary>
    public static GuestImageStorage Memory { get; } = new(null, 0);
}
