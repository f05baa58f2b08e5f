using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink;

/// <summary>One decoded attribute (struct nlattr and its payload). Readers check the payload size.</summary>
internal readonly struct NetlinkAttribute
{
    public NetlinkAttribute(ushort rawType, ReadOnlyMemory<byte> payload)
    {
        RawType = rawType;
        Payload = payload;
    }

    /// <summary>nla_type with the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits.</summary>
    public ushort RawType { get; }

    /// <summary>The attribute type, flag bits masked off.</summary>
    public ushort Type => (ushort)(RawType & LinuxNetlink.NLA_TYPE_MASK);

    public bool IsNestedFlagSet => (RawType & LinuxNetlink.NLA_F_NESTED) != 0;

    public ReadOnlyMemory<byte> Payload { get; }

    public byte ReadU8() => Sized(1)[0];

    public ushort ReadU16() => BinaryPrimitives.ReadUInt16LittleEndian(Sized(2));

    public uint ReadU32() => BinaryPrimitives.ReadUInt32LittleEndian(Sized(4));

    public int ReadI32() => BinaryPrimitives.ReadInt32LittleEndian(Sized(4));

    public ulong ReadU64() => BinaryPrimitives.ReadUInt64LittleEndian(Sized(8));

    /// <summary>A string up to its NUL (or the end of the payload when the kernel sent none).</summary>
    public string ReadString()
    {
        var span = Payload.Span;
        int end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }

    /// <summary>An IPv4 or IPv6 address (4 or 16 bytes).</summary>
    public IPAddress ReadIPAddress()
    {
        if (Payload.Length is not (4 or 16))
        {
            throw new NetlinkFormatException($"netlink attribute {Type}: {Payload.Length} bytes is not an IPv4 (4) or IPv6 (16) address");
        }
        return new IPAddress(Payload.Span);
    }

    /// <summary>The payload as a struct; fails when it is shorter than the struct.</summary>
    public T ReadStruct<T>() where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        return MemoryMarshal.Read<T>(Sized(size, exact: false));
    }

    public byte[] ReadBytes() => Payload.ToArray();

    /// <summary>The attributes nested in this one.</summary>
    public NetlinkAttributes Nested() => NetlinkAttributes.Parse(Payload);

    private ReadOnlySpan<byte> Sized(int size, bool exact = true)
    {
        if (exact ? Payload.Length != size : Payload.Length < size)
        {
            throw new NetlinkFormatException($"netlink attribute {Type} is {Payload.Length} bytes; expected {(exact ? "" : "at least ")}{size}");
        }
        return Payload.Span;
    }

    public override string ToString() => $"nlattr {{ type={Type}{(IsNestedFlagSet ? " nested" : "")}, {Payload.Length} bytes }}";
}
