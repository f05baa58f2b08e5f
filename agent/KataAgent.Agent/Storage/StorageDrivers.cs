using KataAgent.Agent.Storage.Drivers;

namespace KataAgent.Agent.Storage;

/// <summary>The Storage.driver values this agent handles (reported in GetGuestDetails), and the driver for each.</summary>
public static class StorageDrivers
{
    /// <summary>A virtio-blk disk found by its PCI path, mounted with its filesystem (ext4 by default).</summary>
    public const string Blk = "blk";

    /// <summary>A tmpfs (the pod's /dev/shm, a memory emptyDir).</summary>
    public const string Ephemeral = "ephemeral";

    /// <summary>A guest directory (a disk emptyDir).</summary>
    public const string Local = "local";

    /// <summary>A host directory shared over virtio-fs, mounted by its tag (Kata's kataShared share).</summary>
    public const string VirtioFs = "virtio-fs";

    /// <summary>An image pulled inside the guest (Kata's guest pull): Storage.source is the image reference.</summary>
    public const string ImageGuestPull = "image_guest_pull";

    /// <summary>Every driver, in the order GetGuestDetails reports them.</summary>
    private static readonly IStorageDriver[] Drivers = [new BlkStorageDriver(), new EphemeralStorageDriver(), new LocalStorageDriver(), new VirtioFsStorageDriver(), new ImageGuestPullStorageDriver()];

    private static readonly Dictionary<string, IStorageDriver> ByName = Drivers.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>The driver names, in the order GetGuestDetails reports them.</summary>
    public static IReadOnlyList<string> All { get; } = Drivers.Select(d => d.Name).ToArray();

    /// <summary>The driver for <paramref name="name"/>, or null when this agent has none.</summary>
    internal static IStorageDriver? Find(string name) => ByName.GetValueOrDefault(name);
}
