namespace KataAgent.Host.Checkpoints;

/// <summary>Where a checkpoint or a restore is: its stage, and bytes done of the stage's total where one is known.</summary>
/// <param name="Stage">What is being done.</param>
/// <param name="Bytes">Bytes done in this stage (0 where the stage counts none).</param>
/// <param name="TotalBytes">The stage's total, when known in advance; null otherwise.</param>
/// <param name="Item">What the stage works on (a file, a disk), or null.</param>
public sealed record CheckpointProgress(CheckpointStage Stage, long Bytes = 0, long? TotalBytes = null, string? Item = null);
