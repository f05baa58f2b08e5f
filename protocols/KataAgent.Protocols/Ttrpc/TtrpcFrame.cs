namespace KataAgent.Protocols.Ttrpc;

/// <summary>
/// One ttrpc frame: the 10-byte header (payload length and stream id as big-endian uint32, a type byte and a
/// flags byte) and its payload.
/// </summary>
internal sealed class TtrpcFrame(uint streamId, TtrpcMessageType type, TtrpcFlags flags, ReadOnlyMemory<byte> payload)
{
    /// <summary>Bytes in a frame header.</summary>
    public const int HeaderLength = 10;

    /// <summary>The largest payload either side accepts: Go's and Rust's <c>4 &lt;&lt; 20</c>.</summary>
    public const int MaxMessageLength = 4 << 20;

    /// <summary>The stream the frame belongs to; client-initiated streams are odd.</summary>
    public uint StreamId { get; } = streamId;

    /// <summary>The frame type.</summary>
    public TtrpcMessageType Type { get; } = type;

    /// <summary>The type-specific flags.</summary>
    public TtrpcFlags Flags { get; } = flags;

    /// <summary>The payload, without the header.</summary>
    public ReadOnlyMemory<byte> Payload { get; } = payload;

    /// <summary>The message ttrpc (Go, since v1.2.6 on the sending side too) gives for a payload over the limit.</summary>
    public static string OversizeMessage(long length) =>
        $"message length {length} exceed maximum message size of {MaxMessageLength}";
}
