using System.Buffers.Binary;
using Grpc.Core;

namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// Writes ttrpc frames to one connection. Safe for many writers: each frame is one write under a lock, so frames
/// of concurrent calls never interleave.
/// </summary>
internal sealed class TtrpcFrameWriter(Stream stream)
{
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>
    /// Writes a frame. A payload over the limit is refused before anything is written, with the status Go's ttrpc
    /// gives (ResourceExhausted), so the connection stays usable.
    /// </summary>
    public async Task WriteAsync(TtrpcFrame frame, CancellationToken cancellationToken = default)
    {
        byte[] buffer = Encode(frame);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
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
