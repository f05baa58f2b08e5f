namespace KataAgent.Image.Layers;

/// <summary>
/// Passes a tar stream through to <see cref="System.Formats.Tar.TarReader"/> and keeps the bytes read while it reads
/// one entry's headers, so the raw PAX records can be read again: TarReader decodes every PAX value as UTF-8, and
/// xattr values (<c>security.capability</c> above all) are binary. Counts the bytes read for the position of the next
/// header.
/// </summary>
internal sealed class TarHeaderRecorder(Stream inner) : Stream
{
    private MemoryStream? _recording;
    private long _recordingStart;

    /// <summary>Bytes read so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Starts keeping what is read.</summary>
    public void BeginRecording()
    {
        _recording = new MemoryStream();
        _recordingStart = BytesRead;
    }

    /// <summary>Stops keeping; returns what was read since <see cref="BeginRecording"/> and where it started.</summary>
    public (byte[] Bytes, long Start) EndRecording()
    {
        var bytes = _recording?.ToArray() ?? [];
        _recording = null;
        return (bytes, _recordingStart);
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        Keep(buffer[..n]);
        return n;
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Keep(buffer.Span[..n]);
        return n;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        BytesRead += bytes.Length;
        _recording?.Write(bytes);
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
