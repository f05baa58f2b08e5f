using System.Buffers.Binary;
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
    public async Task WriteAsync(TtrpcFrame frame, CancellationToken cancellationToken = default)
    {
        byte[] buffer = Encode(frame);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(buffer, connectionToken).ConfigureAwait(false);
            await stream.FlushAsync(connectionToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The frame's bytes: header and payload in one buffer.</summary>
    public static byte[] Encode(TtrpcFrame frame)
    {
        int length = frame.Payload.Length;
        if (length > TtrpcFrame.MaxMessageLength)
            throw new RpcException(new Grpc.Core.Status(StatusCode.ResourceExhausted, TtrpcFrame.OversizeMessage(length)));
        byte[] buffer = new byte[TtrpcFrame.HeaderLength + length];
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(0, 4), (uint)length);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4, 4), frame.StreamId);
        buffer[8] = (byte)frame.Type;
        buffer[9] = (byte)frame.Flags;
        frame.Payload.Span.CopyTo(buffer.AsSpan(TtrpcFrame.HeaderLength));
        return buffer;
    }
}
