using System.Text.Json;
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
    /// <remarks>
    /// The manifest (and the index it was chosen from) are stored as fetched, so their digests hold; the config is
    /// checked (platform, one diff_id per layer) before any layer is fetched. Layers are reported per layer through
    /// <paramref name="progress"/>, called inline from the download (keep it quick). The store is held in use for the
    /// whole pull, so a concurrent prune waits. A failed or cancelled pull leaves no blob half visible: what a layer
    /// had downloaded stays as a partial download the next pull resumes.
    /// </remarks>
    public async Task<StoredImage> PullAsync(
        ImageReference reference,
        Platform platform,
        IProgress<PullProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(platform);
        using var use = await Store.UseAsync(cancellationToken).ConfigureAwait(false);

        var resolved = await Registry.ResolveAsync(reference, platform, cancellationToken).ConfigureAwait(false);
        Digest? indexDigest = null;
        if (resolved.IndexDescriptor is { } index && resolved.IndexBytes is { } indexBytes)
        {
            indexDigest = Digest.Parse(index.Digest);
            await Store.PutAsync(indexDigest.Value, indexBytes, cancellationToken).ConfigureAwait(false);
        }
        await Store.PutAsync(resolved.ManifestDigest, resolved.ManifestBytes, cancellationToken).ConfigureAwait(false);

        var manifest = resolved.Manifest;
        var configDigest = Digest.Parse(manifest.Config.Digest);
        var configBytes = Store.Contains(configDigest)
            ? await ReadStoredAsync(configDigest, cancellationToken).ConfigureAwait(false)
            : await Registry.GetBlobBytesAsync(reference, manifest.Config, cancellationToken).ConfigureAwait(false);
        CheckConfig(reference.ToString(), platform, manifest, configBytes);
        await Store.PutAsync(configDigest, configBytes, cancellationToken).ConfigureAwait(false);

        var layers = manifest.Layers.Select((layer, i) => (Layer: layer, Index: i, Digest: Digest.Parse(layer.Digest))).ToList();
        foreach (var (layer, i, digest) in layers)
            progress?.Report(new PullProgress(digest, i, Store.Contains(digest) ? PullPhase.AlreadyStored : PullPhase.Waiting, Store.Contains(digest) ? layer.Size : 0, layer.Size));

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Registry.Options.ParallelLayers, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(layers.Where(l => !Store.Contains(l.Digest)).ToList(), parallel, async (item, token) =>
        {
            var (layer, i, digest) = item;
            bool fetched = false;
            await Store.IngestAsync(layer, async (destination, offset, writeToken) =>
            {
                fetched = true;
                progress?.Report(new PullProgress(digest, i, PullPhase.Downloading, offset, layer.Size));
                var bytes = progress is null
                    ? null
                    : new ProgressCallback<long>(held => progress.Report(new PullProgress(digest, i, PullPhase.Downloading, held, layer.Size)));
                await Registry.FetchBlobAsync(reference, layer, destination, offset, bytes, writeToken).ConfigureAwait(false);
            }, token).ConfigureAwait(false);
            // Not fetched: another pull (here or in another process) stored it while this one waited.
            progress?.Report(new PullProgress(digest, i, fetched ? PullPhase.Done : PullPhase.AlreadyStored, layer.Size, layer.Size));
        }).ConfigureAwait(false);

        return await Store.TagAsync(reference.ToString(), resolved.ManifestDigest, indexDigest, cancellationToken).ConfigureAwait(false);
    }

    private async Task<byte[]> ReadStoredAsync(Digest digest, CancellationToken cancellationToken)
    {
        await using var blob = Store.OpenBlob(digest);
        using var buffer = new MemoryStream();
        await blob.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    /// <summary>The config must parse, be for the platform, and name one diff_id per layer.</summary>
    internal static ImageConfig CheckConfig(string reference, Platform platform, ImageManifest manifest, ReadOnlyMemory<byte> configBytes)
    {
        ImageConfig config;
        try
        {
            config = JsonSerializer.Deserialize(configBytes.Span, ImageJsonContext.Default.ImageConfig) ?? throw new JsonException("null document");
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"image {reference}: config {manifest.Config.Digest} does not parse: {e.Message}", e);
        }
        if (!PlatformMatcher.ConfigMatches(config.Os, config.Architecture, config.Variant, platform))
        {
            var built = $"{config.Os ?? "?"}/{config.Architecture ?? "?"}" + (config.Variant is null ? "" : "/" + config.Variant);
            throw new ImageException(ImageErrorKind.Unsupported, $"image {reference} is built for {built}, not {platform}");
        }
        var diffIds = config.Rootfs?.DiffIds ?? [];
        if (diffIds.Count != manifest.Layers.Count)
            throw new ImageException(ImageErrorKind.InvalidInput,
                $"image {reference}: config {manifest.Config.Digest} names {diffIds.Count} diff_ids for the manifest's {manifest.Layers.Count} layers");
        foreach (var diffId in diffIds)
        {
            if (!Digest.TryParse(diffId, out _))
                throw new ImageException(ImageErrorKind.InvalidInput, $"image {reference}: config {manifest.Config.Digest} has a diff_id '{diffId}' that is no digest");
        }
        return config;
    }
}
