using System.Buffers.Binary;

namespace KataAgent.Host.VhostUser;

/// <summary>
/// The 12-byte header of every vhost-user message: <c>u32 request, u32 flags, u32 size</c>, little endian (the
/// protocol says native; every architecture we run on is little endian), then <c>size</c> bytes of payload.
/// </summary>
internal readonly record struct VhostUserHeader(VhostUserRequest Request, uint Flags, uint Size)
{
    /// <summary>Bytes on the wire.</summary>
    public const int Length = 12;

    /// <summary>Flags bits 0-1: the protocol version, always 1.</summary>
    public const uint VersionMask = 0x3;

    /// <summary>The one protocol version there is.</summary>
    public const uint Version = 0x1;

    /// <summary>Set on every message the back-end sends in answer.</summary>
    public const uint ReplyFlag = 0x4;

    /// <summary>The front-end wants a REPLY_ACK (a u64, 0 for success) for a request that has no reply of its own.</summary>
    public const uint NeedReplyFlag = 0x8;

    /// <summary>Whether the front-end asked for a REPLY_ACK.</summary>
    public bool NeedsReply => (Flags & NeedReplyFlag) != 0;

    /// <summary>Reads a header from the first <see cref="Length"/> bytes of <paramref name="source"/>.</summary>
    public static VhostUserHeader Read(ReadOnlySpan<byte> source) => new(
        (VhostUserRequest)BinaryPrimitives.ReadUInt32LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[8..]));

    /// <summary>Writes the header into the first <see cref="Length"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Request);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Size);
    }
}
