namespace KataAgent.Host.Checkpoints;

/// <summary>
/// manifest.json of a checkpoint directory: what wrote it, and every other file with its size and SHA-256. Written
/// last, so a directory without one is a checkpoint that never finished.
/// </summary>
internal sealed record CheckpointManifest
{
    /// <summary>The layout's version; a restore refuses any other.</summary>
    public required int FormatVersion { get; init; }

    public required string SandboxId { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The guest agent's version (Health.Version), for the reader's information.</summary>
    public required string AgentVersion { get; init; }

    /// <summary>The qemu that saved the state: another version may not load it.</summary>
    public required string QemuVersion { get; init; }

    /// <summary>The guest kernel and initrd the VM booted from: the restored qemu is given the same ones.</summary>
    public required CheckpointFile Kernel { get; init; }

    public required CheckpointFile Initrd { get; init; }

    /// <summary>Bytes of memory and device state qemu sent, before compression.</summary>
    public required long MemoryBytes { get; init; }

    public required IReadOnlyList<CheckpointFile> Files { get; init; }
}
