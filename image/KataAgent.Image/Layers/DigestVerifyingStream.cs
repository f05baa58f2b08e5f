using System.Security.Cryptography;
using KataAgent.Image.References;

namespace KataAgent.Image.Layers;

/// <summary>
/// Hashes what is read through it; <see cref="VerifyToEndAsync"/> reads the rest and compares the whole with the
/// expected digest (a layer's diff_id: the uncompressed tar, trailing zero blocks included).
/// </summary>
internal sealed class DigestVerifyingStream : ReadObservingStream
{
    private readonly Digest _expected;
    private readonly IncrementalHash _hash;

    /// <summary>Verifies <paramref name="inner"/> against <paramref name="expected"/>.</summary>
    public DigestVerifyingStream(Stream inner, Digest expected)
        : base(inner, ownsInner: true)
    {
        _expected = expected;
        _hash = expected.CreateHash();
    }

    /// <summary>
    /// Reads to the end and checks the digest; <see cref="ImageErrorKind.DigestMismatch"/> naming
    /// <paramref name="what"/>, both digests and the size when it differs.
    /// </summary>
    public async Task VerifyToEndAsync(string what, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        while (await ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
        {
        }
        var actual = Digest.FromHash(_expected.Algorithm, _hash.GetHashAndReset());
        if (actual != _expected)
        {
            throw new ImageException(ImageErrorKind.DigestMismatch,
                $"{what}: the uncompressed content ({BytesRead} bytes) is {actual}, but the config's diff_id is {_expected}");
        }
    }

    /// <inheritdoc/>
    protected override void Observe(ReadOnlySpan<byte> bytes) => _hash.AppendData(bytes);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _hash.Dispose();
        base.Dispose(disposing);
    }
}
