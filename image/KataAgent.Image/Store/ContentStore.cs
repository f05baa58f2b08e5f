using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Store;

/// <summary>
/// Content-addressed blobs (<c>blobs/sha256/&lt;hex&gt;</c>) shared by every image, and image records naming a
/// manifest. Blobs are ingested through a temporary file, verified against their digest and size, and renamed into
/// place, so a reader never sees a partial blob and concurrent pulls of one blob (in one process or many) store it
/// once. A partial download is kept to resume from.
/// </summary>
public sealed partial class ContentStore
{
    /// <summary>A store rooted at <paramref name="root"/>, created if absent.</summary>
    public ContentStore(string root)
    {
        Root = root;
        throw new NotImplementedException("seam: the content store is being written");
    }

    /// <summary>The directory the store lives in.</summary>
    public string Root { get; }

    /// <summary>True when the blob is stored whole.</summary>
    public bool Contains(Digest digest) => throw new NotImplementedException("seam");

    /// <summary>Opens a stored blob for reading; <see cref="ImageErrorKind.NotFound"/> when absent.</summary>
    public Stream OpenBlob(Digest digest) => throw new NotImplementedException("seam");

    /// <summary>
    /// Stores the blob <paramref name="descriptor"/> names, written by <paramref name="write"/> into a stream that
    /// starts at the given offset (non-zero when a partial download is resumed). Verified against the descriptor's
    /// digest and size; on a mismatch nothing is stored and <see cref="ImageErrorKind.DigestMismatch"/> is thrown.
    /// Returns at once when the blob is already stored.
    /// </summary>
    public Task IngestAsync(
        Descriptor descriptor,
        Func<Stream, long, CancellationToken, Task> write,
        CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam");

    /// <summary>Stores small content whole (a manifest or config as fetched), verified against its digest.</summary>
    public Task PutAsync(Digest digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam");

    /// <summary>Records <paramref name="name"/> as naming the manifest; its config and layers must be stored.</summary>
    public Task<StoredImage> TagAsync(string name, Digest manifestDigest, CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam");

    /// <summary>The stored images, by name.</summary>
    public IReadOnlyList<StoredImage> ListImages() => throw new NotImplementedException("seam");

    /// <summary>
    /// The image named <paramref name="nameOrId"/>: a reference (normalised as <see cref="ImageReference.Parse"/> does),
    /// a manifest digest, or a unique prefix of its hex; null when there is none.
    /// </summary>
    public StoredImage? FindImage(string nameOrId) => throw new NotImplementedException("seam");

    /// <summary>Removes the image record; its blobs stay until <see cref="PruneAsync"/>. False when absent.</summary>
    public bool RemoveImage(string nameOrId) => throw new NotImplementedException("seam");

    /// <summary>Deletes every blob no image record reaches, and stale partial downloads; returns the bytes freed.</summary>
    public Task<long> PruneAsync(CancellationToken cancellationToken) => throw new NotImplementedException("seam");
}
