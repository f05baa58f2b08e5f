namespace KataAgent.Host.Checkpoints;

/// <summary>How <see cref="Sandboxes.Sandbox.CheckpointAsync"/> checkpoints a sandbox.</summary>
public sealed record SandboxCheckpointOptions
{
    /// <summary>
    /// Resume the sandbox once its state is saved (a live copy: the pod runs on, paused only while its memory and disks
    /// are written) instead of stopping it. Stopped (the default), the sandbox is torn down as
    /// <see cref="Sandboxes.Sandbox.DestroyAsync"/> would after the save, without asking the agent anything more: the
    /// checkpoint is then the only copy of the pod.
    /// </summary>
    public bool LeaveRunning { get; init; }

    /// <summary>
    /// zstd level of the VM state stream (1..19; 3 by default, zstd's own). Higher levels make smaller checkpoints
    /// and keep the VM paused longer.
    /// </summary>
    public int CompressionLevel { get; init; } = 3;
}
