namespace KataAgent.Image.Layers;

/// <summary>What an unpack did not do exactly as the layers say, though the rootfs is usable.</summary>
/// <param name="Warnings">
/// One line per skipped detail, naming the layer and path: an xattr the filesystem or our privileges refused, aufs
/// metadata entries.
/// </param>
public sealed record LayerUnpackResult(IReadOnlyList<string> Warnings);
