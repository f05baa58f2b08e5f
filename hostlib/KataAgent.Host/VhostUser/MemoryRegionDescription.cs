using System.Buffers.Binary;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// One region of SET_MEM_TABLE: <c>u64 guest_phys_addr, memory_size, userspace_addr, mmap_offset</c>. The region's
/// bytes are at <c>mmap_offset</c> in the fd that comes with it; <c>userspace_addr</c> is where the front-end has
/// them mapped, which is how ring addresses are given.
/// </summary>
internal readonly record struct MemoryRegionDescription(ulong GuestPhysicalAddress, ulong Size, ulong UserAddress, ulong MmapOffset)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 32;

    /// <summary>Decodes one region.</summary>
    public static MemoryRegionDescription Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(source),
        BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(source[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(source[24..]));

    /// <summary>Encodes one region.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, GuestPhysicalAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], UserAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], MmapOffset);
    }
}
