using System.Buffers.Binary;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// The fixed part of GET_CONFIG / SET_CONFIG: <c>u32 offset, u32 size, u32 flags</c>, then <c>size</c> bytes of
/// config space (the front-end sends them zeroed in GET_CONFIG; the reply fills them).
/// </summary>
internal readonly record struct ConfigRequest(uint Offset, uint Size, uint Flags)
{
    /// <summary>Bytes before the config payload.</summary>
    public const int HeaderLength = 12;

    /// <summary>VHOST_USER_MAX_CONFIG_SIZE: the largest config payload a message carries.</summary>
    public const int MaxSize = 256;

    /// <summary>Decodes the fixed part.</summary>
    public static ConfigRequest Read(ReadOnlySpan<byte> payload) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(payload),
        BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]));

    /// <summary>Encodes the fixed part.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Flags);
    }
}
