using System.Security.Cryptography;
using System.Text.Json;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;

namespace KataAgent.Image.Layout;

/// <summary>
/// Loads images from an OCI image layout (a directory with <c>oci-layout</c>, <c>index.json</c> and <c>blobs/</c>, or
/// a tar archive of one, as <c>skopeo copy … oci-archive:</c> writes), for machines without a registry.
/// </summary>
public static class OciLayoutImporter
{
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";
    private const int MaxIndexDepth = 4;
    private const int DocumentLimit = 4 << 20;

    /// <summary>
    /// Imports every image the layout's index names (by its <c>org.opencontainers.image.ref.name</c>, as
    /// <paramref name="name"/> when given) for <paramref name="platform"/> into <paramref name="store"/>, verifying
    /// every blob; returns the images stored.
    /// </summary>
    /// <remarks>
    /// <paramref name="path"/> is a layout directory or an archive, optionally in skopeo's transport syntax
    /// (<c>oci:DIR[:REF]</c>, <c>oci-archive:FILE[:REF]</c>), where REF keeps only the entry of that ref.name. An
    /// archive is unpacked into a scratch directory inside the store first (see <see cref="OciArchive"/>). Nested
    /// indexes are followed to the platform's manifest; entries for other platforms are left out. Names: a ref.name
    /// that is a full reference (<c>example.com/app:v1</c>) is stored as it is; one that is only a tag (<c>v1</c>, as
    /// umoci writes) needs <paramref name="name"/>, whose repository it is stored under when several images are
    /// imported (<c>name:tag</c> each), or which is the name itself when there is one image. Every blob is copied
    /// through the store's ingest, so each is verified against its digest and size before it is visible.
    /// </remarks>
    public static async Task<IReadOnlyList<StoredImage>> ImportAsync(
        string path,
        ContentStore store,
        string? name,
        Platform platform,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(platform);
        var (source, refFilter) = ParseSource(path);
        using var use = await store.UseAsync(cancellationToken).ConfigureAwait(false);

        string layout;
        string? scratch = null;
        if (Directory.Exists(source))
        {
            layout = source;
        }
        else if (File.Exists(source))
        {
            scratch = store.CreateScratchDirectory("import");
            layout = scratch;
        }
        else
        {
            throw new ImageException(ImageErrorKind.NotFound, $"OCI layout {source} does not exist");
        }

        try
        {
            if (scratch is not null)
                await OciArchive.ExtractAsync(source, scratch, cancellationToken).ConfigureAwait(false);
            var index = ReadDocument(Path.Combine(layout, "index.json"), ImageJsonContext.Default.ImageIndex, source, "index.json");
            var images = SelectImages(layout, source, index, refFilter, platform);
            if (images.Count == 0)
            {
                throw new ImageException(ImageErrorKind.NotFound, refFilter is null
                    ? $"OCI layout {source} names no image for {platform}"
                    : $"OCI layout {source} names no image '{refFilter}' for {platform}");
            }

            var stored = new List<StoredImage>();
            foreach (var image in images)
            {
                var imageName = NameOf(image, name, images.Count, source);
                stored.Add(await ImportImageAsync(layout, source, store, image, imageName, platform, cancellationToken).ConfigureAwait(false));
            }
            return stored;
        }
        finally
        {
            if (scratch is not null)
            {
                try
                {
                    Directory.Delete(scratch, recursive: true);
                }
                catch (IOException)
                {
                    // Prune sweeps what is left.
                }
            }
        }
    }

    private static async Task<StoredImage> ImportImageAsync(
        string layout, string source, ContentStore store, LayoutImage image, string imageName, Platform platform, CancellationToken cancellationToken)
    {
        if (image.Index is not null)
            await CopyBlobAsync(layout, source, store, image.Index, cancellationToken).ConfigureAwait(false);
        await CopyBlobAsync(layout, source, store, image.Manifest, cancellationToken).ConfigureAwait(false);
        var manifestDigest = Digest.Parse(image.Manifest.Digest);
        var manifest = store.ReadManifest(manifestDigest);
        if (manifest.SchemaVersion != 2)
            throw new ImageException(ImageErrorKind.Unsupported, $"OCI layout {source}: manifest {manifestDigest} has schemaVersion {manifest.SchemaVersion}, not 2");

        await CopyBlobAsync(layout, source, store, manifest.Config, cancellationToken).ConfigureAwait(false);
        byte[] configBytes;
        await using (var config = store.OpenBlob(Digest.Parse(manifest.Config.Digest)))
        {
            using var buffer = new MemoryStream();
            await config.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            configBytes = buffer.ToArray();
        }
        ImagePuller.CheckConfig(imageName, platform, manifest, configBytes);

        foreach (var layer in manifest.Layers)
            await CopyBlobAsync(layout, source, store, layer, cancellationToken).ConfigureAwait(false);
        return await store.TagAsync(imageName, manifestDigest, image.Index is null ? null : Digest.Parse(image.Index.Digest), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Copies one blob into the store through its ingest, which verifies digest and size.</summary>
    private static async Task CopyBlobAsync(string layout, string source, ContentStore store, Descriptor descriptor, CancellationToken cancellationToken)
    {
        var digest = Digest.Parse(descriptor.Digest);
        if (store.Contains(digest))
            return;
        var file = BlobPath(layout, digest);
        if (!File.Exists(file))
            throw new ImageException(ImageErrorKind.NotFound, $"OCI layout {source} lacks blob {digest}");
        try
        {
            await store.IngestAsync(descriptor, async (destination, offset, token) =>
            {
                await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
                input.Position = Math.Min(offset, input.Length);
                await input.CopyToAsync(destination, token).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageException e) when (e.Kind == ImageErrorKind.DigestMismatch)
        {
            throw new ImageException(ImageErrorKind.DigestMismatch, $"OCI layout {source}: {e.Message}", e);
        }
    }

    /// <summary>The images index.json names for the platform: nested indexes followed, other platforms and attestations left out.</summary>
    private static List<LayoutImage> SelectImages(string layout, string source, ImageIndex index, string? refFilter, Platform platform)
    {
        var images = new List<LayoutImage>();
        foreach (var entry in index.Manifests)
        {
            var refName = entry.Annotations?.GetValueOrDefault(RefNameAnnotation);
            if (refFilter is not null && refName != refFilter)
                continue;
            if (PlatformMatcher.IsAttestation(entry))
                continue;
            if (MediaTypes.IsIndex(entry.MediaType))
            {
                var chosen = ChooseFromIndex(layout, source, entry, platform, depth: 1);
                if (chosen is not null)
                    images.Add(new LayoutImage(refName, chosen, entry));
            }
            else if (MediaTypes.IsManifest(entry.MediaType))
            {
                if (entry.Platform is null || PlatformMatcher.Choose([entry], platform) is not null)
                    images.Add(new LayoutImage(refName, entry, null));
            }
        }
        return images;
    }

    private static Descriptor? ChooseFromIndex(string layout, string source, Descriptor indexDescriptor, Platform platform, int depth)
    {
        if (depth > MaxIndexDepth)
            throw new ImageException(ImageErrorKind.Unsupported, $"OCI layout {source}: indexes nest deeper than {MaxIndexDepth}");
        var bytes = ReadVerifiedBlob(layout, source, indexDescriptor);
        ImageIndex index;
        try
        {
            index = JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageIndex) ?? throw new JsonException("null document");
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source}: index {indexDescriptor.Digest} does not parse: {e.Message}", e);
        }
        var chosen = PlatformMatcher.Choose(index.Manifests, platform);
        if (chosen is null)
        {
            // A nested index may itself carry a platform-less entry that is another index.
            foreach (var nested in index.Manifests.Where(m => MediaTypes.IsIndex(m.MediaType) && m.Platform is null))
            {
                var found = ChooseFromIndex(layout, source, nested, platform, depth + 1);
                if (found is not null)
                    return found;
            }
            return null;
        }
        return MediaTypes.IsIndex(chosen.MediaType) ? ChooseFromIndex(layout, source, chosen, platform, depth + 1) : chosen;
    }

    private static byte[] ReadVerifiedBlob(string layout, string source, Descriptor descriptor)
    {
        var digest = Digest.Parse(descriptor.Digest);
        if (descriptor.Size > DocumentLimit)
            throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source}: {digest} is {descriptor.Size} bytes, more than an index may be");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(BlobPath(layout, digest));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageException(ImageErrorKind.NotFound, $"OCI layout {source} lacks blob {digest}", e);
        }
        var actual = Digest.FromHash(digest.Algorithm, digest.Algorithm == "sha512" ? SHA512.HashData(bytes) : SHA256.HashData(bytes));
        if (actual != digest || bytes.Length != descriptor.Size)
            throw new ImageException(ImageErrorKind.DigestMismatch, $"OCI layout {source}: blob {digest} holds {bytes.Length} bytes with digest {actual}");
        return bytes;
    }

    private static T ReadDocument<T>(string file, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string source, string what)
        where T : class
    {
        try
        {
            var info = new FileInfo(file);
            if (info.Exists && info.Length > DocumentLimit)
                throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source}: {what} is larger than {DocumentLimit} bytes");
            return JsonSerializer.Deserialize(File.ReadAllBytes(file), type) ?? throw new JsonException("null document");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"{source} is no OCI layout: it has no {what}", e);
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source}: {what} does not parse: {e.Message}", e);
        }
    }

    private static string BlobPath(string layout, Digest digest) => Path.Combine(layout, "blobs", digest.Algorithm, digest.Hex);

    /// <summary>A plain path, or skopeo's <c>oci:PATH[:REF]</c> / <c>oci-archive:PATH[:REF]</c>.</summary>
    internal static (string Path, string? Ref) ParseSource(string path)
    {
        foreach (var prefix in new[] { "oci-archive:", "oci:" })
        {
            if (!path.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            var rest = path[prefix.Length..];
            int colon = rest.LastIndexOf(':');
            if (colon > 0 && !File.Exists(rest) && !Directory.Exists(rest))
                return (rest[..colon], rest[(colon + 1)..]);
            return (rest, null);
        }
        return (path, null);
    }

    /// <summary>The name an imported image is stored under (see <see cref="ImportAsync"/>).</summary>
    private static string NameOf(LayoutImage image, string? name, int count, string source)
    {
        if (name is not null)
        {
            var given = ImageReference.Parse(name);
            if (count == 1)
                return given.ToString();
            var tag = TagOf(image.RefName)
                ?? throw new ImageException(ImageErrorKind.InvalidInput,
                    $"OCI layout {source} holds {count} images and manifest {image.Manifest.Digest} has no ref.name to tell its tag; import one by its ref");
            if (HasTag(name))
                throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source} holds {count} images: name a repository ('{given.Name}'), not one tag");
            return given.Name + ":" + tag;
        }
        if (image.RefName is null)
            throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source}: manifest {image.Manifest.Digest} has no ref.name; give a name to store it under");
        if (!IsFullReference(image.RefName))
            throw new ImageException(ImageErrorKind.InvalidInput, $"OCI layout {source} names its image '{image.RefName}', a tag only; give a name to store it under");
        return ImageReference.Parse(image.RefName).ToString();
    }

    private static bool IsFullReference(string refName) => refName.Contains('/') || refName.Contains(':') || refName.Contains('@');

    private static string? TagOf(string? refName)
    {
        if (refName is null)
            return null;
        if (IsFullReference(refName))
            return ImageReference.Parse(refName).Tag;
        return refName;
    }

    private static bool HasTag(string name)
    {
        var at = name.IndexOf('@');
        var body = at >= 0 ? name[..at] : name;
        return body.LastIndexOf(':') > body.LastIndexOf('/');
    }
}
