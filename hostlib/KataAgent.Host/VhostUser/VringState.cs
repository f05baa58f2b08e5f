using System.Buffers.Binary;

namespace KataAgent.Host.VhostUser;

/// <summary><c>struct vhost_vring_state { u32 index; u32 num; }</c>: SET_VRING_NUM, SET/GET_VRING_BASE, SET_VRING_ENABLE.</summary>
internal readonly record struct VringState(uint Index, uint Num)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 8;

    /// <summary>Decodes the payload.</summary>
    public static VringState Read(ReadOnlySpan<byte> payload) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(payload),
        BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));

    /// <summary>Encodes the payload.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Index);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Num);
    }
}
