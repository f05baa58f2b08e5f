using System.Security.Cryptography;

namespace KataAgent.Image.Store;

/// <summary>
/// A write-only stream in front of a partial blob that hashes and counts what passes through, and refuses to grow
/// the blob past the size its descriptor gives (a registry sending more is as wrong as one sending other bytes).
/// </summary>
internal sealed class HashingWriteStream(Stream inner, IncrementalHash hash, long limit, string blob) : Stream
{
    /// <summary>Bytes written through this stream.</summary>
    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => Written;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Admit(buffer.Length);
        inner.Write(buffer);
        hash.AppendData(buffer);
        Written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Admit(buffer.Length);
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        hash.AppendData(buffer.Span);
        Written += buffer.Length;
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Admit(int count)
    {
        if (Written + count > limit)
            throw new ImageException(ImageErrorKind.DigestMismatch, $"blob {blob} is longer than the {limit} bytes its descriptor gives");
    }
}
