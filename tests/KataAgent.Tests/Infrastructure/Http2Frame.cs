namespace KataAgent.Tests.Infrastructure;

/// <summary>One HTTP/2 frame as it crossed the wire (RFC 9113 §4.1), and which way it went.</summary>
public sealed record Http2Frame(bool FromAgent, byte Type, byte Flags, int StreamId, byte[] Payload)
{
    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte RstStream = 0x3;
    public const byte Continuation = 0x9;
    public const byte EndStream = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte Priority = 0x20;

    /// <summary>The error code of a RST_STREAM frame.</summary>
    public uint ErrorCode => Type == RstStream ? (uint)(Payload[0] << 24 | Payload[1] << 16 | Payload[2] << 8 | Payload[3]) : throw new InvalidOperationException($"frame type {Type} has no error code");

    /// <summary>The header block fragment of a HEADERS or CONTINUATION frame, without padding and priority.</summary>
    public ReadOnlySpan<byte> HeaderBlockFragment
    {
        get
        {
            if (Type == Continuation)
            {
                return Payload;
            }
            int start = 0;
            int padding = 0;
            if ((Flags & Padded) != 0)
            {
                padding = Payload[0];
                start = 1;
            }
            if ((Flags & Priority) != 0)
            {
                start += 5;
            }
            return Payload.AsSpan(start, Payload.Length - start - padding);
        }
    }

    public override string ToString() => $"{(FromAgent ? "agent" : "client")} type {Type} flags 0x{Flags:x2} stream {StreamId} ({Payload.Length} bytes)";
}
