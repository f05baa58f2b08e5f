using System.Buffers.Binary;

namespace KataAgent.Host.Vsock;

/// <summary>
/// The 44-byte little-endian header every virtio-vsock packet starts with (virtio spec,
/// <c>struct virtio_vsock_hdr</c>, packed). A plain value: read from and written to spans, never allocated.
/// </summary>
internal struct VsockPacketHeader
{
    /// <summary>The header's size on the wire.</summary>
    public const int Size = 44;

    /// <summary>The one socket type this device supports.</summary>
    public const ushort TypeStream = 1;

    /// <summary>The source context id.</summary>
    public ulong SrcCid;

    /// <summary>The destination context id.</summary>
    public ulong DstCid;

    /// <summary>The source port.</summary>
    public uint SrcPort;

    /// <summary>The destination port.</summary>
    public uint DstPort;

    /// <summary>Payload bytes after the header.</summary>
    public uint Len;

    /// <summary>The socket type (1 stream, 2 seqpacket).</summary>
    public ushort Type;

    /// <summary>The operation.</summary>
    public VsockOp Op;

    /// <summary>Operation flags (SHUTDOWN: <see cref="VsockShutdownFlags"/>).</summary>
    public uint Flags;

    /// <summary>The sender's receive buffer size for this connection.</summary>
    public uint BufAlloc;

    /// <summary>The sender's free-running count of received bytes it has consumed.</summary>
    public uint FwdCnt;

    /// <summary>Decodes the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    public static VsockPacketHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new ArgumentException($"a vsock header needs {Size} bytes, got {source.Length}", nameof(source));
        }
        return new VsockPacketHeader
        {
            SrcCid = BinaryPrimitives.ReadUInt64LittleEndian(source),
            DstCid = BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            SrcPort = BinaryPrimitives.ReadUInt32LittleEndian(source[16..]),
            DstPort = BinaryPrimitives.ReadUInt32LittleEndian(source[20..]),
            Len = BinaryPrimitives.ReadUInt32LittleEndian(source[24..]),
            Type = BinaryPrimitives.ReadUInt16LittleEndian(source[28..]),
            Op = (VsockOp)BinaryPrimitives.ReadUInt16LittleEndian(source[30..]),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(source[32..]),
            BufAlloc = BinaryPrimitives.ReadUInt32LittleEndian(source[36..]),
            FwdCnt = BinaryPrimitives.ReadUInt32LittleEndian(source[40..]),
        };
    }

    /// <summary>Encodes this header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public readonly void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"a vsock header needs {Size} bytes, got {destination.Length}", nameof(destination));
        }
        BinaryPrimitives.WriteUInt64LittleEndian(destination, SrcCid);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], DstCid);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], SrcPort);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], DstPort);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], Len);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[28..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[30..], (ushort)Op);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[36..], BufAlloc);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[40..], FwdCnt);
    }

    /// <inheritdoc />
    public override readonly string ToString() =>
        $"{Op} {SrcCid}:{SrcPort}->{DstCid}:{DstPort} type={Type} len={Len} flags={Flags} buf_alloc={BufAlloc} fwd_cnt={FwdCnt}";
}
