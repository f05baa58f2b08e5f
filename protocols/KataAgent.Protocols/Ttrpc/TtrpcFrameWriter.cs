using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// Writes ttrpc frames to one connection. Safe for many writers: each frame is one write under a lock, so frames
/// of concurrent calls never interleave.
/// </summary>
/// <param name="stream">The connection.</param>
/// <param name="connectionToken">Ends a write in progress: only for when the whole connection is being dropped.</param>
internal sealed class TtrpcFrameWriter(Stream stream, CancellationToken connectionToken = default)
{
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>
    /// Writes a frame. A payload over the limit is refused before anything is written, with the status Go's ttrpc
    /// gives (ResourceExhausted), so the connection stays usable. <paramref name="cancellationToken"/> stops the wait
    /// for the connection only: a frame once begun is written whole (or the connection dropped), since half a frame
    /// would break every stream on it.
    /// </summary>
    public Task WriteAsync(TtrpcFrame frame, CancellationToken cancellationToken = default)
    {
        int length = frame.Payload.Length;
        byte[] buffer = Rent(length);
        WriteHeader(buffer, length, frame.StreamId, frame.Type, frame.Flags);
        frame.Payload.Span.CopyTo(buffer.AsSpan(TtrpcFrame.HeaderLength));
        return SendAsync(buffer, TtrpcFrame.HeaderLength + length, cancellationToken);
    }

    /// <summary>
    /// As <see cref="WriteAsync(TtrpcFrame, CancellationToken)"/>, serializing <paramref name="payload"/> straight into
    /// the frame: one copy of its bytes fields instead of three (message, frame, connection) for a stream's data.
    /// </summary>
    public Task WriteAsync(uint streamId, TtrpcMessageType type, TtrpcFlags flags, IMessage payload, CancellationToken cancellationToken = default)
    {
        int length = payload.CalculateSize();
        byte[] buffer = Rent(length);
        WriteHeader(buffer, length, streamId, type, flags);
        payload.WriteTo(buffer.AsSpan(TtrpcFrame.HeaderLength, length));
        return SendAsync(buffer, TtrpcFrame.HeaderLength + length, cancellationToken);
    }

    /// <summary>Writes a rented frame buffer under the connection's lock, then returns it to the pool.</summary>
    private async Task SendAsync(byte[] buffer, int length, CancellationToken cancellationToken)
    {
        try
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await stream.WriteAsync(buffer.AsMemory(0, length), connectionToken).ConfigureAwait(false);
                await stream.FlushAsync(connectionToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A pooled buffer for a frame with a payload of <paramref name="length"/> bytes; over the limit throws ResourceExhausted.</summary>
    private static byte[] Rent(int length)
    {
        if (length > TtrpcFrame.MaxMessageLength)
            throw new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, TtrpcFrame.OversizeMessage(length)));
        return ArrayPool<byte>.Shared.Rent(TtrpcFrame.HeaderLength + length);
    }

    private static void WriteHeader(Span<byte> buffer, int length, uint streamId, TtrpcMessageType type, TtrpcFlags flags)
    {
        BinaryPrimitives.WriteUInt32BigEndian(buffer[..4], (uint)length);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.Slice(4, 4), streamId);
        buffer[8] = (byte)type;
        buffer[9] = (byte)flags;
    }

    /// <summary>The frame's bytes: header and payload in one buffer.</summary>
    public static byte[] Encode(TtrpcFrame frame)
    {
        int length = frame.Payload.Length;
        if (length > TtrpcFrame.MaxMessageLength)
            throw new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, TtrpcFrame.OversizeMessage(length)));
        byte[] buffer = new byte[TtrpcFrame.HeaderLength + length];
        WriteHeader(buffer, length, frame.StreamId, frame.Type, frame.Flags);
        frame.Payload.Span.CopyTo(buffer.AsSpan(TtrpcFrame.HeaderLength));
        return buffer;
    }
}
