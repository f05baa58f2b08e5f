using System.Buffers;
using System.IO.Pipelines;

namespace KataAgent.Agent.Server.Protocols;

/// <summary>
/// Tells gRPC from ttrpc by a connection's first bytes, without consuming any. An HTTP/2 client opens with the
/// preface <c>PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n</c>; a ttrpc client opens with a frame header, whose first byte is
/// the high byte of a payload length of at most 4 MiB and so always 0: no legal ttrpc frame starts with 'P'.
/// </summary>
/// <remarks>
/// The decision is made on the first read, whatever it holds: the bytes it has are compared with the preface, and
/// any difference means ttrpc. A first read that holds only the start of the preface (a fragmented write) counts as
/// gRPC; the HTTP/2 server checks the rest. Deciding on one read keeps the bytes unexamined
/// (<see cref="PipeReader.AdvanceTo(SequencePosition)"/> at the start), so the protocol's own reader gets them at
/// once: a pipe whose bytes were examined would wait for more, and a ttrpc client sends one frame and waits.
/// </remarks>
internal static class ProtocolSniffer
{
    /// <summary>HTTP/2's client connection preface (RFC 9113 §3.4).</summary>
    internal static ReadOnlySpan<byte> Http2Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>The protocol of the connection whose input is <paramref name="input"/>; null when it ended before sending a byte.</summary>
    public static async ValueTask<WireProtocol?> DetectAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                WireProtocol protocol = Classify(buffer);
                input.AdvanceTo(buffer.Start);
                return protocol;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    /// <summary>gRPC when <paramref name="start"/> (not empty) is the preface or a beginning of it; ttrpc otherwise.</summary>
    internal static WireProtocol Classify(ReadOnlySequence<byte> start)
    {
        ReadOnlySpan<byte> preface = Http2Preface;
        Span<byte> head = stackalloc byte[preface.Length];
        int length = (int)Math.Min(start.Length, preface.Length);
        start.Slice(0, length).CopyTo(head);
        return head[..length].SequenceEqual(preface[..length]) ? WireProtocol.Grpc : WireProtocol.Ttrpc;
    }
}
