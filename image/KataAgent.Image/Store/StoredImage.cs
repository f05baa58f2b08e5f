using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Store;

/// <summary>An image the store holds under a name: its manifest (one platform's), config, and when it was stored.</summary>
/// <param name="Name">The canonical reference it was stored under (<see cref="ImageReference.ToString"/>).</param>
/// <param name="ManifestDigest">The manifest's digest (the image's id).</param>
/// <param name="Manifest">The parsed manifest.</param>
/// <param name="ConfigDigest">The config blob's digest.</param>
/// <param name="Config">The parsed config.</param>
/// <param name="Size">The manifest, config and compressed layers' bytes.</param>
/// <param name="Stored">When it was stored.</param>
public sealed record StoredImage(
    string Name,
    Digest ManifestDigest,
    ImageManifest Manifest,
    Digest ConfigDigest,
    ImageConfig Config,
    long Size,
    DateTimeOffset Stored);
