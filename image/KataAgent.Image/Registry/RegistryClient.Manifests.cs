using System.Security.Cryptography;
using System.Text.Json;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

public sealed partial class RegistryClient
{
    /// <summary>Manifests and indexes larger than this are refused (the distribution spec's own limit is 4 MiB).</summary>
    private const int ManifestLimit = 4 << 20;

    /// <summary>How deep indexes may nest (an index entry naming another index).</summary>
    private const int MaxIndexDepth = 4;

    private const string Schema1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// <summary>
    /// Resolves <paramref name="reference"/> to the manifest for <paramref name="platform"/>: an index is read and
    /// the matching entry fetched by digest (attestation entries skipped); a single manifest is checked against the
    /// platform in its config by the caller. Errors name the reference.
    /// </summary>
    public async Task<ResolvedImage> ResolveAsync(ImageReference reference, Platform platform, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(platform);
        var (descriptor, bytes) = await FetchManifestAsync(reference, reference.ManifestReference, reference.Digest, expectedSize: null, cancellationToken)
            .ConfigureAwait(false);
        Descriptor? indexDescriptor = null;
        byte[]? indexBytes = null;
        for (int depth = 0; MediaTypes.IsIndex(descriptor.MediaType); depth++)
        {
            if (depth >= MaxIndexDepth)
                throw new ImageException(ImageErrorKind.Unsupported, $"image {reference}: indexes nest deeper than {MaxIndexDepth}");
            var index = Parse(bytes, ImageJsonContext.Default.ImageIndex, reference, "index");
            // The index kept with the image is the one the reference named (the outermost).
            indexDescriptor ??= descriptor;
            indexBytes ??= bytes;
            var chosen = PlatformMatcher.Choose(index.Manifests, platform)
                ?? throw new ImageException(ImageErrorKind.NotFound,
                    $"image {reference} has no manifest for {platform} (its index offers: {PlatformMatcher.Describe(index.Manifests)})");
            var childDigest = Digest.Parse(chosen.Digest);
            (descriptor, bytes) = await FetchManifestAsync(reference.WithDigest(childDigest), childDigest.ToString(), childDigest, chosen.Size, cancellationToken)
                .ConfigureAwait(false);
        }
        if (!MediaTypes.IsManifest(descriptor.MediaType))
            throw new ImageException(ImageErrorKind.Unsupported, $"image {reference}: manifest media type '{descriptor.MediaType}' is not an image manifest this client handles");
        var manifest = Parse(bytes, ImageJsonContext.Default.ImageManifest, reference, "manifest");
        if (manifest.SchemaVersion != 2)
            throw new ImageException(ImageErrorKind.Unsupported, $"image {reference}: manifest schemaVersion {manifest.SchemaVersion} is not 2");
        return new ResolvedImage(reference, descriptor, bytes, manifest, indexDescriptor, indexBytes);
    }

    /// <summary>
    /// GETs one manifest or index with every type we parse in Accept, checks Content-Type against the body's
    /// mediaType, and its digest: the pinned one when fetched by digest, else Docker-Content-Digest when sent.
    /// </summary>
    private async Task<(Descriptor Descriptor, byte[] Bytes)> FetchManifestAsync(
        ImageReference reference,
        string which,
        Digest? expected,
        long? expectedSize,
        CancellationToken cancellationToken)
    {
        var target = TargetOf(reference, $"manifest of {reference}");
        using var response = await SendAsync(target, $"/v2/{reference.Repository}/manifests/{which}", request =>
        {
            foreach (var type in MediaTypes.AcceptedManifests)
                request.Headers.Accept.Add(new System.Net.Http.Headers.MediaTypeWithQualityHeaderValue(type));
        }, cancellationToken).ConfigureAwait(false);
        var bytes = await ReadLimitedAsync(response.Content, ManifestLimit, target, cancellationToken).ConfigureAwait(false);

        var contentType = response.Content.Headers.ContentType?.MediaType;
        var (bodyType, schemaVersion, hasManifests) = Peek(bytes, reference);
        if (schemaVersion == 1 || contentType == Schema1)
            throw new ImageException(ImageErrorKind.Unsupported, $"image {reference}: registry {reference.Registry} sent a Docker schema 1 manifest, which is not supported");
        if (bodyType is not null && contentType is not null && contentType != "application/json" && contentType != bodyType)
            throw new ImageException(ImageErrorKind.InvalidInput,
                $"image {reference}: registry {reference.Registry} sent Content-Type {contentType} for a manifest whose mediaType is {bodyType}");
        // OCI makes mediaType optional: then the Content-Type says it, or the shape does.
        var mediaType = bodyType ?? (contentType is not null && contentType != "application/json" ? contentType
            : hasManifests ? MediaTypes.OciIndex : MediaTypes.OciManifest);

        Digest digest;
        if (expected is { } pinned)
        {
            digest = DigestOf(pinned.Algorithm, bytes);
            if (digest != pinned)
                throw new ImageException(ImageErrorKind.DigestMismatch, $"image {reference}: registry {reference.Registry} sent a manifest with digest {digest} for {pinned}");
            if (expectedSize is { } size && size != bytes.Length)
                throw new ImageException(ImageErrorKind.DigestMismatch, $"image {reference}: manifest {pinned} is {bytes.Length} bytes, its index entry gives {size}");
        }
        else
        {
            digest = Digest.Sha256Of(bytes);
            if (response.Headers.TryGetValues("Docker-Content-Digest", out var values)
                && Digest.TryParse(values.FirstOrDefault(), out var claimed)
                && claimed.Algorithm == "sha256"
                && claimed != digest)
            {
                throw new ImageException(ImageErrorKind.DigestMismatch, $"image {reference}: registry {reference.Registry} sent a manifest with digest {digest} under Docker-Content-Digest {claimed}");
            }
        }
        return (new Descriptor { MediaType = mediaType, Digest = digest.ToString(), Size = bytes.Length }, bytes);
    }

    private static Digest DigestOf(string algorithm, byte[] bytes) =>
        Digest.FromHash(algorithm, algorithm == "sha512" ? SHA512.HashData(bytes) : SHA256.HashData(bytes));

    /// <summary>The body's mediaType, schemaVersion and whether it has a manifests array, without binding it.</summary>
    private static (string? MediaType, int? SchemaVersion, bool HasManifests) Peek(byte[] bytes, ImageReference reference)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ImageException(ImageErrorKind.InvalidInput, $"image {reference}: the manifest is not a JSON object");
            string? mediaType = root.TryGetProperty("mediaType", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            int? schema = root.TryGetProperty("schemaVersion", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var v) ? v : null;
            bool hasManifests = root.TryGetProperty("manifests", out var list) && list.ValueKind == JsonValueKind.Array;
            return (mediaType, schema, hasManifests);
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"image {reference}: the manifest is not valid JSON: {e.Message}", e);
        }
    }

    private static T Parse<T>(byte[] bytes, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, ImageReference reference, string what)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, type) ?? throw new JsonException("null document");
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"image {reference}: the {what} does not parse: {e.Message}", e);
        }
    }
}
