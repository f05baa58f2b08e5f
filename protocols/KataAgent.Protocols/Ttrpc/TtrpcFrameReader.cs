using System.Buffers.Binary;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>Reads ttrpc frames from one connection. One reader per connection; not for concurrent use.</summary>
/// <remarks>A <see cref="System.IO.Pipelines.PipeReader"/> is read through <c>PipeReader.AsStream()</c>.</remarks>
internal sealed class TtrpcFrameReader(Stream stream)
{
    private readonly byte[] header = new byte[TtrpcFrame.HeaderLength];

    /// <summary>
    /// The next frame, or null when the peer closed the connection between frames. Throws
    /// <see cref="TtrpcProtocolException"/> when the bytes are not a frame.
    /// </summary>
    public async ValueTask<TtrpcFrame?> ReadAsync(CancellationToken cancellationToken = default)
    {
        int got = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken)
            .ConfigureAwait(false);
        if (got == 0)
            return null;
        if (got < header.Length)
            throw new TtrpcProtocolException($"short frame header: the connection ended after {got} of {TtrpcFrame.HeaderLength} bytes");

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(0, 4));
        uint streamId = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4, 4));
        var type = (TtrpcMessageType)header[8];
        var flags = (TtrpcFlags)header[9];

        // Go discards an oversized body and answers on the stream; we answer and close instead, because a 4 GiB
        // announcement would otherwise have us read (and the peer send) that much before anything else moves.
        if (length > TtrpcFrame.MaxMessageLength)
            throw new TtrpcProtocolException(TtrpcFrame.OversizeMessage(length), streamId) { Oversized = true };
        if (type is not (TtrpcMessageType.Request or TtrpcMessageType.Response or TtrpcMessageType.Data))
            throw new TtrpcProtocolException($"unknown frame type 0x{(byte)type:x2} on stream {streamId}", streamId);

        byte[] payload = length == 0 ? [] : new byte[length];
        if (length > 0)
        {
            int read = await stream.ReadAtLeastAsync(payload, payload.Length, throwOnEndOfStream: false, cancellationToken)
                .ConfigureAwait(false);
            if (read < payload.Length)
                throw new TtrpcProtocolException($"short frame payload: the connection ended after {read} of {length} bytes", streamId);
        }
        return new TtrpcFrame(streamId, type, flags, payload);
    }
}
