using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Store;

public sealed partial class ContentStore
{
    /// <summary>
    /// Stores the blob <paramref name="descriptor"/> names, written by <paramref name="write"/> into a stream that
    /// starts at the given offset (non-zero when a partial download is resumed). Verified against the descriptor's
    /// digest and size; on a mismatch nothing is stored and <see cref="ImageErrorKind.DigestMismatch"/> is thrown.
    /// Returns at once when the blob is already stored.
    /// </summary>
    /// <remarks>
    /// One writer per blob, across processes: the writer holds <c>ingest/&lt;hex&gt;.lock</c>; a second one waits
    /// and then finds the blob stored. When <paramref name="write"/> fails (the registry went away, the pull was
    /// cancelled) the bytes written so far stay in <c>ingest/&lt;hex&gt;.partial</c> for the next attempt, which
    /// hashes them again before it continues, so a resumed blob is verified whole.
    /// </remarks>
    public async Task IngestAsync(
        Descriptor descriptor,
        Func<Stream, long, CancellationToken, Task> write,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(write);
        var digest = Digest.Parse(descriptor.Digest);
        if (descriptor.Size < 0)
            throw new ImageException(ImageErrorKind.InvalidInput, $"blob {digest} has a negative size {descriptor.Size}");
        if (Contains(digest))
            return;

        using var use = await UseAsync(cancellationToken).ConfigureAwait(false);
        using var writer = await StoreLock.AcquireAsync(Path.Combine(IngestDirectory, digest.Hex + LockSuffix), exclusive: true, cancellationToken)
            .ConfigureAwait(false);
        if (Contains(digest))
            return;

        var partial = PartialPath(digest);
        bool verified;
        Digest actual;
        long total;
        try
        {
            // Disposing the file flushes what arrived, which stays for the next attempt when the write failed.
            await using var file = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, 81920, FileOptions.Asynchronous);
            using var hash = digest.CreateHash();
            long offset = file.Length;
            if (offset > descriptor.Size)
            {
                file.SetLength(0);
                offset = 0;
            }
            await HashExistingAsync(file, hash, offset, cancellationToken).ConfigureAwait(false);
            file.Position = offset;

            var sink = new HashingWriteStream(file, hash, descriptor.Size - offset, digest.ToString());
            await write(sink, offset, cancellationToken).ConfigureAwait(false);
            total = offset + sink.Written;
            actual = Digest.FromHash(digest.Algorithm, hash.GetHashAndReset());
            verified = total == descriptor.Size && actual == digest;
            if (verified)
                file.Flush(flushToDisk: true);
        }
        catch (ImageException e) when (e.Kind == ImageErrorKind.DigestMismatch)
        {
            TryDelete(partial);
            throw;
        }

        if (!verified)
        {
            TryDelete(partial);
            throw new ImageException(ImageErrorKind.DigestMismatch, total != descriptor.Size
                ? $"blob {digest} arrived with {total} bytes, its descriptor gives {descriptor.Size}"
                : $"blob {digest} arrived with digest {actual}");
        }
        File.Move(partial, BlobPath(digest), overwrite: true);
    }

    private static async Task HashExistingAsync(FileStream file, System.Security.Cryptography.IncrementalHash hash, long length, CancellationToken cancellationToken)
    {
        file.Position = 0;
        var buffer = new byte[81920];
        long left = length;
        while (left > 0)
        {
            int read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
                break;
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
    }

    /// <summary>The bytes of a blob's partial download kept in the store (0 when there is none).</summary>
    internal long PartialLength(Digest digest)
    {
        var info = new FileInfo(PartialPath(digest));
        return info.Exists ? info.Length : 0;
    }
}
