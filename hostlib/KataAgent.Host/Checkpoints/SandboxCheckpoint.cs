namespace KataAgent.Host.Checkpoints;

/// <summary>What <see cref="Sandboxes.Sandbox.CheckpointAsync"/> wrote.</summary>
public sealed record SandboxCheckpoint
{
    /// <summary>The checkpoint directory (absolute).</summary>
    public required string Directory { get; init; }

    /// <summary>The checkpointed sandbox's id.</summary>
    public required string SandboxId { get; init; }

    /// <summary>The files written, as the manifest lists them (relative paths, sizes, sha256).</summary>
    public required IReadOnlyList<CheckpointFile> Files { get; init; }

    /// <summary>Bytes of guest memory and device state qemu sent, before compression.</summary>
    public required long MemoryBytes { get; init; }

    /// <summary>How long the VM was paused.</summary>
    public required TimeSpan Downtime { get; init; }

    /// <summary>Whether the sandbox was left running (<see cref="SandboxCheckpointOptions.LeaveRunning"/>).</summary>
    public required bool LeftRunning { get; init; }

    /// <summary>The checkpoint's size on disk: every file's length (a reflinked disk counts whole).</summary>
    public long SizeBytes => Files.Sum(f => f.Size);
}
