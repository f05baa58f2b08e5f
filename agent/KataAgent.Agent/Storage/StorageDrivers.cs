namespace KataAgent.Agent.Storage;

/// <summary>The Storage.driver values this agent handles (reported in GetGuestDetails).</summary>
public static class StorageDrivers
{
    /// <summary>A virtio-blk disk found by its PCI path, mounted with its filesystem (ext4 by default).</summary>
    public const string Blk = "blk";

    /// <summary>A tmpfs (the pod's /dev/shm, a memory emptyDir).</summary>
    public const string Ephemeral = "ephemeral";

    /// <summary>A guest directory (a disk emptyDir).</summary>
    public const string Local = "local";

    public static IReadOnlyList<string> All { get; } = [Blk, Ephemeral, Local];
}
