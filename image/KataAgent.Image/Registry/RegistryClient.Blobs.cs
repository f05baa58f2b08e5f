using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

public sealed partial class RegistryClient
{
    /// <summary>Blobs fetched whole into memory (configs) larger than this are refused.</summary>
    private const int SmallBlobLimit = 16 << 20;

    /// <summary>
    /// Streams the blob <paramref name="blob"/> of <paramref name="repository"/> into <paramref name="destination"/>
    /// from byte <paramref name="offset"/> on (a Range request, to resume a partial download), reporting the blob's
    /// bytes held so far (counting <paramref name="offset"/>); the bytes are not verified here, the content store
    /// verifies the whole blob as it ingests it. A connection that breaks mid-body is resumed from the byte it
    /// reached, for as long as attempts make progress.
    /// </summary>
    public async Task FetchBlobAsync(
        ImageReference repository,
        Descriptor blob,
        Stream destination,
        long offset,
        IProgress<long>? bytesWritten,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(destination);
        var digest = Digest.Parse(blob.Digest);
        var target = TargetOf(repository, $"blob {digest} of {repository}");
        long position = offset;
        var buffer = new byte[81920];
        for (int barren = 0; ;)
        {
            if (position >= blob.Size && blob.Size > 0)
                return;
            long start = position;
            // A failing write is the destination's (a full disk), not the registry's: not retried.
            bool writing = false;
            try
            {
                using var response = await SendAsync(target, $"/v2/{repository.Repository}/blobs/{digest}", request =>
                {
                    if (start > 0)
                        request.Headers.Range = new RangeHeaderValue(start, null);
                }, cancellationToken).ConfigureAwait(false);
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);

                // A registry that ignores Range sends the blob from byte 0: skip what is held already.
                long skip = 0;
                if (start > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                    skip = start;
                else if (start > 0 && response.Content.Headers.ContentRange?.From is { } from && from != start)
                    throw new ImageException(ImageErrorKind.InvalidInput, $"{target.What}: registry {target.Registry} answered a range from {start} with one from {from}");

                while (true)
                {
                    int read = await ReadWithStallTimeoutAsync(body, buffer, cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                        break;
                    int usable = read;
                    int first = 0;
                    if (skip > 0)
                    {
                        int dropped = (int)Math.Min(skip, read);
                        skip -= dropped;
                        first = dropped;
                        usable -= dropped;
                    }
                    if (usable == 0)
                        continue;
                    writing = true;
                    await destination.WriteAsync(buffer.AsMemory(first, usable), cancellationToken).ConfigureAwait(false);
                    writing = false;
                    position += usable;
                    bytesWritten?.Report(position);
                }
                if (position < blob.Size)
                    throw new IOException($"the body ended at byte {position} of {blob.Size}");
                return;
            }
            catch (Exception e) when (!writing && IsTransient(e, cancellationToken))
            {
                // Progress resets the count: a long blob over a flaky link gets there as long as bytes keep coming.
                barren = position > start ? 0 : barren + 1;
                if (barren >= Options.Attempts)
                    throw Unreachable(target, barren, e);
                await Task.Delay(Backoff(Math.Max(barren, 1), null), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Fetches a small blob (a config) whole, verified.</summary>
    public async Task<byte[]> GetBlobBytesAsync(ImageReference repository, Descriptor blob, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(blob);
        var digest = Digest.Parse(blob.Digest);
        var target = TargetOf(repository, $"blob {digest} of {repository}");
        if (blob.Size > SmallBlobLimit)
            throw new ImageException(ImageErrorKind.InvalidInput, $"{target.What}: {blob.Size} bytes is more than the {SmallBlobLimit} allowed for a config");
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await SendAsync(target, $"/v2/{repository.Repository}/blobs/{digest}", null, cancellationToken).ConfigureAwait(false);
                var bytes = await ReadLimitedAsync(response.Content, (int)Math.Max(blob.Size, 0), target, cancellationToken, ImageErrorKind.DigestMismatch).ConfigureAwait(false);
                var actual = Digest.FromHash(digest.Algorithm, digest.Algorithm == "sha512" ? SHA512.HashData(bytes) : SHA256.HashData(bytes));
                if (bytes.Length != blob.Size || actual != digest)
                    throw new ImageException(ImageErrorKind.DigestMismatch,
                        $"{target.What}: registry {target.Registry} sent {bytes.Length} bytes with digest {actual}; the descriptor gives {blob.Size} bytes");
                return bytes;
            }
            catch (Exception e) when (IsTransient(e, cancellationToken))
            {
                if (attempt >= Options.Attempts)
                    throw Unreachable(target, attempt, e);
                await Task.Delay(Backoff(attempt, null), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
