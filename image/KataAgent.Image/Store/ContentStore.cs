using System.Text.Json;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Store;

/// <summary>
/// Content-addressed blobs (<c>blobs/sha256/&lt;hex&gt;</c>) shared by every image, and image records naming a
/// manifest. Blobs are ingested through a temporary file, verified against their digest and size, and renamed into
/// place, so a reader never sees a partial blob and concurrent pulls of one blob (in one process or many) store it
/// once. A partial download is kept to resume from.
/// </summary>
/// <remarks>
/// Layout under <see cref="Root"/>: <c>blobs/&lt;alg&gt;/&lt;hex&gt;</c>; <c>ingest/&lt;hex&gt;.partial</c> (a download in
/// progress or interrupted) beside <c>ingest/&lt;hex&gt;.lock</c> (its writer's flock); <c>images/&lt;sha256 of the
/// name&gt;.json</c>; <c>tmp/</c> (archives being imported); <c>store.lock</c>, held shared by every pull or import and
/// exclusively by prune, so prune never sweeps a blob a pull has stored but not yet tagged. File names come only from
/// validated digests or hashes. docs/IMAGES.md "Registry, store and pull" has the whole design.
/// </remarks>
public sealed partial class ContentStore
{
    private const string PartialSuffix = ".partial";
    private const string LockSuffix = ".lock";
    private const string TempMarker = ".tmp-";

    /// <summary>A store rooted at <paramref name="root"/>, created if absent.</summary>
    public ContentStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.GetFullPath(root);
        try
        {
            Directory.CreateDirectory(Path.Combine(Root, "blobs", "sha256"));
            Directory.CreateDirectory(Path.Combine(Root, "blobs", "sha512"));
            Directory.CreateDirectory(IngestDirectory);
            Directory.CreateDirectory(ImagesDirectory);
            Directory.CreateDirectory(TempDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"content store {Root} cannot be created: {e.Message}", e);
        }
    }

    /// <summary>The directory the store lives in.</summary>
    public string Root { get; }

    private string IngestDirectory => Path.Combine(Root, "ingest");

    private string ImagesDirectory => Path.Combine(Root, "images");

    private string StoreLockPath => Path.Combine(Root, "store.lock");

    private string TempDirectory => Path.Combine(Root, "tmp");

    /// <summary>True when the blob is stored whole.</summary>
    public bool Contains(Digest digest) => File.Exists(BlobPath(digest));

    /// <summary>Opens a stored blob for reading; <see cref="ImageErrorKind.NotFound"/> when absent.</summary>
    public Stream OpenBlob(Digest digest)
    {
        try
        {
            return new FileStream(BlobPath(digest), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageException(ImageErrorKind.NotFound, $"blob {digest} is not in the content store {Root}", e);
        }
    }

    /// <summary>The path of a stored blob (it may not exist); the digest was validated when parsed.</summary>
    internal string BlobPath(Digest digest)
    {
        if (digest.Algorithm is null)
            throw new ImageException(ImageErrorKind.InvalidInput, "a default Digest names no blob");
        return Path.Combine(Root, "blobs", digest.Algorithm, digest.Hex);
    }

    /// <summary>The partial download of a blob, kept between attempts (it may not exist).</summary>
    internal string PartialPath(Digest digest) => Path.Combine(IngestDirectory, digest.Hex + PartialSuffix);

    /// <summary>
    /// Holds the store in use (a shared lock) until disposed: pulls and imports hold it from their first blob to
    /// their image record, so <see cref="PruneAsync"/>, which needs it exclusively, cannot sweep their blobs between.
    /// </summary>
    internal async Task<IDisposable> UseAsync(CancellationToken cancellationToken) =>
        await StoreLock.AcquireAsync(StoreLockPath, exclusive: false, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// A fresh scratch directory inside the store (an archive unpacked for import): on the store's filesystem, and
    /// swept by <see cref="PruneAsync"/> if its user dies. The caller holds <see cref="UseAsync"/> and deletes it.
    /// </summary>
    internal string CreateScratchDirectory(string purpose) =>
        Directory.CreateDirectory(Path.Combine(TempDirectory, purpose + "-" + Guid.NewGuid().ToString("N"))).FullName;

    /// <summary>Stores small content whole (a manifest or config as fetched), verified against its digest.</summary>
    public async Task PutAsync(Digest digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var actual = Digest.FromHash(digest.Algorithm, digest.Algorithm == "sha512"
            ? System.Security.Cryptography.SHA512.HashData(content.Span)
            : System.Security.Cryptography.SHA256.HashData(content.Span));
        if (actual != digest)
            throw new ImageException(ImageErrorKind.DigestMismatch, $"content stored as {digest} has digest {actual}");
        if (Contains(digest))
            return;
        using var use = await UseAsync(cancellationToken).ConfigureAwait(false);
        await WriteAtomicallyAsync(BlobPath(digest), content, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a file whole through a temporary file in its directory and a rename, so readers see all or nothing.</summary>
    private static async Task WriteAtomicallyAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var temp = path + TempMarker + Guid.NewGuid().ToString("N");
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Reads and parses a stored manifest.</summary>
    internal ImageManifest ReadManifest(Digest digest)
    {
        var bytes = ReadBlobBytes(digest, "manifest");
        try
        {
            return JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageManifest)
                ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"stored manifest {digest} is not an image manifest: {e.Message}", e);
        }
    }

    /// <summary>Reads and parses a stored config.</summary>
    internal ImageConfig ReadConfig(Digest digest)
    {
        var bytes = ReadBlobBytes(digest, "config");
        try
        {
            return JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig)
                ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"stored config {digest} is not an image config: {e.Message}", e);
        }
    }

    private byte[] ReadBlobBytes(Digest digest, string what)
    {
        try
        {
            return File.ReadAllBytes(BlobPath(digest));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageException(ImageErrorKind.NotFound, $"{what} {digest} is not in the content store {Root}", e);
        }
    }
}
