using System.Buffers.Binary;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>Reads ttrpc frames from one connection. One reader per connection; not for concurrent use.</summary>
/// <remarks>
/// Reads go through a buffer of its own: one read from the connection takes in whatever has arrived, so a small
/// frame costs one system call, not one for its header and one for its payload, and a burst of frames one for all.
/// A payload larger than half the buffer is read straight into its own array. A
/// <see cref="System.IO.Pipelines.PipeReader"/> is read through <c>PipeReader.AsStream()</c>.
/// </remarks>
internal sealed class TtrpcFrameReader(Stream stream)
{
    private const int BufferSize = 64 * 1024;
    private readonly byte[] buffer = new byte[BufferSize];
    private int start;
    private int end;

    /// <summary>
    /// The next frame, or null when the peer closed the connection between frames. Throws
    /// <see cref="TtrpcProtocolException"/> when the bytes are not a frame.
    /// </summary>
    public async ValueTask<TtrpcFrame?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (!await FillAsync(TtrpcFrame.HeaderLength, cancellationToken).ConfigureAwait(false))
        {
            if (end == start)
                return null;
            throw new TtrpcProtocolException($"short frame header: the connection ended after {end - start} of {TtrpcFrame.HeaderLength} bytes");
        }

        var header = buffer.AsSpan(start, TtrpcFrame.HeaderLength);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[..4]);
        uint streamId = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(4, 4));
        var type = (TtrpcMessageType)header[8];
        var flags = (TtrpcFlags)header[9];

        // Go discards an oversized body and answers on the stream; we answer and close instead, because a 4 GiB
        // announcement would otherwise have us read (and the peer send) that much before anything else moves.
        if (length > TtrpcFrame.MaxMessageLength)
            throw new TtrpcProtocolException(TtrpcFrame.OversizeMessage(length), streamId) { Oversized = true };
        if (type is not (TtrpcMessageType.Request or TtrpcMessageType.Response or TtrpcMessageType.Data))
            throw new TtrpcProtocolException($"unknown frame type 0x{(byte)type:x2} on stream {streamId}", streamId);
        start += TtrpcFrame.HeaderLength;

        byte[] payload = length == 0 ? [] : new byte[length];
        int copied = Math.Min((int)length, end - start);
        buffer.AsSpan(start, copied).CopyTo(payload);
        start += copied;
        int read = copied;
        if (read < payload.Length)
        {
            if (payload.Length - read > BufferSize / 2)
            {
                read += await stream.ReadAtLeastAsync(payload.AsMemory(read), payload.Length - read, throwOnEndOfStream: false, cancellationToken)
                    .ConfigureAwait(false);
            }
            else if (await FillAsync(payload.Length - read, cancellationToken).ConfigureAwait(false))
            {
                buffer.AsSpan(start, payload.Length - read).CopyTo(payload.AsSpan(read));
                start += payload.Length - read;
                read = payload.Length;
            }
            else
            {
                read += end - start;
            }
            if (read < payload.Length)
                throw new TtrpcProtocolException($"short frame payload: the connection ended after {read} of {length} bytes", streamId);
        }
        return new TtrpcFrame(streamId, type, flags, payload);
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered; false when the connection ends first.</summary>
    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (end - start >= count)
            return true;
        if (start > 0)
        {
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
        }
        while (end < count)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return false;
            end += n;
        }
        return true;
    }
}
