using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

/// <summary>
/// An image reference resolved to one platform's manifest: its exact bytes (stored as fetched, so its digest holds),
/// and the index it was chosen from, if any.
/// </summary>
/// <param name="Reference">What was asked for.</param>
/// <param name="ManifestDescriptor">The chosen manifest's media type, digest and size.</param>
/// <param name="ManifestBytes">The manifest exactly as the registry sent it.</param>
/// <param name="Manifest">The parsed manifest.</param>
/// <param name="IndexDescriptor">The index's descriptor when the reference named an index, else null.</param>
/// <param name="IndexBytes">The index exactly as sent, else null.</param>
public sealed record ResolvedImage(
    ImageReference Reference,
    Descriptor ManifestDescriptor,
    ReadOnlyMemory<byte> ManifestBytes,
    ImageManifest Manifest,
    Descriptor? IndexDescriptor,
    ReadOnlyMemory<byte>? IndexBytes)
{
    /// <summary>The chosen manifest's digest.</summary>
    public Digest ManifestDigest => Digest.Parse(ManifestDescriptor.Digest);
}
