using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

/// <summary>
/// A client of the OCI distribution API (reference vm-io-imagepull.md §3.1): the <c>/v2/</c> probe, Bearer and
/// Basic auth from the challenge on any request, manifests negotiated by Accept, platform selection from an index,
/// blobs verified against their digest while they stream, redirects without forwarding credentials to another
/// host, retries with backoff.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    /// <summary>A client with <paramref name="options"/>; it owns one HTTP handler for its lifetime.</summary>
    public RegistryClient(RegistryClientOptions options)
    {
        Options = options;
        throw new NotImplementedException("seam: the registry client is being written");
    }

    /// <summary>The options the client was made with.</summary>
    public RegistryClientOptions Options { get; }

    /// <summary>
    /// Resolves <paramref name="reference"/> to the manifest for <paramref name="platform"/>: an index is read and
    /// the matching entry fetched by digest (attestation entries skipped); a single manifest is checked against the
    /// platform in its config by the caller. Errors name the reference.
    /// </summary>
    public Task<ResolvedImage> ResolveAsync(ImageReference reference, Platform platform, CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam");

    /// <summary>
    /// Streams the blob <paramref name="blob"/> of <paramref name="repository"/> into <paramref name="destination"/>
    /// from byte <paramref name="offset"/> on (a Range request, to resume a partial download), reporting the bytes
    /// written; the bytes are not verified here, the content store verifies the whole blob as it ingests it.
    /// </summary>
    public Task FetchBlobAsync(
        ImageReference repository,
        Descriptor blob,
        Stream destination,
        long offset,
        IProgress<long>? bytesWritten,
        CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam");

    /// <summary>Fetches a small blob (a config) whole, verified.</summary>
    public Task<byte[]> GetBlobBytesAsync(ImageReference repository, Descriptor blob, CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam");

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
