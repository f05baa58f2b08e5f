using System.Security.Cryptography;
using KataAgent.Image.References;

namespace KataAgent.Image.Layers;

/// <summary>
/// Hashes what is read through it; <see cref="VerifyToEndAsync"/> reads the rest and compares the whole with the
/// expected digest (a layer's diff_id: the uncompressed tar, trailing zero blocks included).
/// </summary>
internal sealed class DigestVerifyingStream : Stream
{
    private readonly Stream _inner;
    private readonly Digest _expected;
    private readonly IncrementalHash _hash;

    /// <summary>Verifies <paramref name="inner"/> against <paramref name="expected"/>.</summary>
    public DigestVerifyingStream(Stream inner, Digest expected)
    {
        _inner = inner;
        _expected = expected;
        _hash = expected.CreateHash();
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead { get; private set; }

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
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Hash(buffer[..n]);
        return n;
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Hash(buffer.Span[..n]);
        return n;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Hash(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        BytesRead += bytes.Length;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    public override bool CanRead => true;
    /// <inheritdoc/>
    public override bool CanSeek => false;
    /// <inheritdoc/>
    public override bool CanWrite => false;
    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
    /// <inheritdoc/>
    public override void Flush() { }
    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
