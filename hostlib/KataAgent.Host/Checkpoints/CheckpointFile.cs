namespace KataAgent.Host.Checkpoints;

/// <summary>One file of a checkpoint directory, as its manifest lists it.</summary>
/// <param name="Path">The path relative to the directory, with '/' separators.</param>
/// <param name="Size">Its length in bytes.</param>
/// <param name="Sha256">Its SHA-256, lower-case hex.</param>
public sealed record CheckpointFile(string Path, long Size, string Sha256);
