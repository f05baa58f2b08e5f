using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;

namespace KataAgent.Image.Pull;

/// <summary>
/// Pulls an image into a <see cref="ContentStore"/>: resolves the platform's manifest, fetches the config and the
/// layers (in parallel, resuming partial ones, skipping stored ones), and records the image under its name.
/// </summary>
public sealed class ImagePuller
{
    /// <summary>A puller that fetches through <paramref name="registry"/> into <paramref name="store"/>.</summary>
    public ImagePuller(RegistryClient registry, ContentStore store)
    {
        Registry = registry;
        Store = store;
    }

    /// <summary>The registry client.</summary>
    public RegistryClient Registry { get; }

    /// <summary>The store pulled into.</summary>
    public ContentStore Store { get; }

    /// <summary>Pulls <paramref name="reference"/> for <paramref name="platform"/>; the config's os/arch must match.</summary>
    public Task<StoredImage> PullAsync(
        ImageReference reference,
        Platform platform,
        IProgress<PullProgress>? progress,
        CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam: the puller is being written");
}
