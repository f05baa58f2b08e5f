using KataAgent.Image.References;

namespace KataAgent.Image.Pull;

/// <summary>One report of a pull's progress, per layer.</summary>
/// <param name="Layer">The layer blob's digest.</param>
/// <param name="Index">The layer's position in the manifest, base first.</param>
/// <param name="Phase">Where the layer is.</param>
/// <param name="Bytes">Bytes done in this phase.</param>
/// <param name="Total">The layer's size (compressed while downloading).</param>
public readonly record struct PullProgress(Digest Layer, int Index, PullPhase Phase, long Bytes, long Total);
