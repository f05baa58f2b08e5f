using KataAgent.Image.Containment;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Store;

namespace KataAgent.Image.Layers;

/// <summary>
/// Unpacks a stored image's layers, base first, into one directory (the flattened variant of reference
/// vm-io-imagepull.md §3.4): tar, tar+gzip and tar+zstd; whiteouts and opaque directories performed as deletions of
/// lower content; hardlinks, symlinks, device nodes, fifos, ownership, modes, mtimes and xattrs. Every entry is
/// resolved inside the target without following symlinks, so no entry (<c>..</c>, absolute names, symlinked
/// parents, hardlinks to outside) can write or link outside it: such a layer is refused with
/// <see cref="ImageErrorKind.PathEscape"/>. Each layer's uncompressed bytes are checked against the config's diff_id.
/// Setting owners and making device nodes needs root (CAP_CHOWN, CAP_MKNOD).
/// </summary>
public static class LayerUnpacker
{
    private const long ProgressStep = 1 << 20;

    /// <summary>
    /// Unpacks <paramref name="image"/> from <paramref name="store"/> into <paramref name="rootfsDirectory"/>, which
    /// must be empty or absent. On failure the directory is removed, so nothing is left half-unpacked. Progress is
    /// reported per layer (<see cref="PullPhase.Unpacking"/> with the compressed bytes read, then
    /// <see cref="PullPhase.Unpacked"/>).
    /// </summary>
    public static async Task<LayerUnpackResult> UnpackAsync(
        ContentStore store,
        StoredImage image,
        string rootfsDirectory,
        IProgress<PullProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        // The store stays in use until the last layer is read, so a concurrent prune cannot sweep a blob between.
        using var use = await store.UseAsync(cancellationToken).ConfigureAwait(false);
        return await UnpackAsync(
            descriptor => store.OpenBlob(Digest.Parse(descriptor.Digest)),
            image.Manifest, image.Config, image.Name, rootfsDirectory, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// As the public overload, with the layer blobs from <paramref name="openBlob"/> (the guest pull helper and the
    /// tests open them from elsewhere than a <see cref="ContentStore"/>).
    /// </summary>
    internal static async Task<LayerUnpackResult> UnpackAsync(
        Func<Descriptor, Stream> openBlob,
        ImageManifest manifest,
        ImageConfig config,
        string imageName,
        string rootfsDirectory,
        IProgress<PullProgress>? progress,
        CancellationToken cancellationToken)
    {
        var layers = manifest.Layers ?? [];
        var diffIds = config.Rootfs?.DiffIds ?? [];
        if (layers.Count != diffIds.Count)
        {
            throw new ImageException(ImageErrorKind.InvalidInput,
                $"image {imageName}: the manifest has {layers.Count} layers but the config's rootfs.diff_ids has {diffIds.Count}");
        }
        // Everything that can be refused without touching the disk is, first.
        var plan = new List<(Descriptor Layer, Digest Blob, Digest DiffId)>();
        for (int i = 0; i < layers.Count; i++)
        {
            LayerDecompression.CompressionOf(layers[i].MediaType);
            plan.Add((layers[i], Digest.Parse(layers[i].Digest), Digest.Parse(diffIds[i])));
        }
        PrepareTarget(rootfsDirectory);

        var warnings = new List<string>();
        try
        {
            using var root = new ContainedRoot(rootfsDirectory);
            for (int i = 0; i < plan.Count; i++)
            {
                var (layer, blob, diffId) = plan[i];
                string label = $"image {imageName} layer {i} ({blob})";
                progress?.Report(new PullProgress(blob, i, PullPhase.Unpacking, 0, layer.Size));
                var counting = new ProgressStream(openBlob(layer), bytes =>
                    progress?.Report(new PullProgress(blob, i, PullPhase.Unpacking, bytes, layer.Size)), ProgressStep);
                using var verifying = new DigestVerifyingStream(LayerDecompression.Open(counting, layer.MediaType), diffId);
                try
                {
                    await LayerApplier.ApplyAsync(verifying, root, label, warnings, cancellationToken).ConfigureAwait(false);
                    await verifying.VerifyToEndAsync(label, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidDataException e)
                {
                    throw new ImageException(ImageErrorKind.InvalidInput, $"{label}: the compressed stream is corrupt: {e.Message}", e);
                }
                catch (ZstdSharp.ZstdException e)
                {
                    throw new ImageException(ImageErrorKind.InvalidInput, $"{label}: the zstd stream is corrupt: {e.Message}", e);
                }
                progress?.Report(new PullProgress(blob, i, PullPhase.Unpacked, counting.BytesRead, layer.Size));
            }
        }
        catch
        {
            RemoveTarget(rootfsDirectory);
            throw;
        }
        return new LayerUnpackResult(warnings);
    }

    private static void PrepareTarget(string rootfsDirectory)
    {
        if (string.IsNullOrEmpty(rootfsDirectory))
            throw new ImageException(ImageErrorKind.InvalidInput, "no rootfs directory was given");
        if (File.Exists(rootfsDirectory) || (Directory.Exists(rootfsDirectory) && Directory.EnumerateFileSystemEntries(rootfsDirectory).Any()))
            throw new ImageException(ImageErrorKind.InvalidInput, $"the rootfs directory '{rootfsDirectory}' exists and is not an empty directory");
        Directory.CreateDirectory(rootfsDirectory);
    }

    private static void RemoveTarget(string rootfsDirectory)
    {
        try
        {
            ContainedRoot.RemoveDirectory(rootfsDirectory);
        }
        catch (IOException)
        {
            // The unpack's own error is the one to report; what could not be removed stays for the caller to see.
        }
    }
}
