using System.Buffers.Binary;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// <c>struct vhost_vring_addr { u32 index; u32 flags; u64 desc, used, avail, log; }</c> (SET_VRING_ADDR). The three
/// ring addresses are the front-end's own virtual addresses (qemu's), translated through the memory table's
/// <c>uaddr</c>; <c>log</c> only matters for dirty logging, which the server does not offer.
/// </summary>
internal readonly record struct VringAddress(uint Index, uint Flags, ulong Descriptors, ulong Used, ulong Available, ulong Log)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 40;

    /// <summary>Decodes the payload.</summary>
    public static VringAddress Read(ReadOnlySpan<byte> payload) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(payload),
        BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[24..]),
        BinaryPrimitives.ReadUInt64LittleEndian(payload[32..]));

    /// <summary>Encodes the payload.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Index);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Descriptors);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], Used);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], Available);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], Log);
    }
}
