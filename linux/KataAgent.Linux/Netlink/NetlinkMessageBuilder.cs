using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink;

/// <summary>
/// Builds one netlink request: the nlmsghdr, the family's fixed header (ifinfomsg, rtmsg, …) and
/// attributes, nested ones included, each padded to 4 bytes as the kernel's parser expects.
/// <see cref="NetlinkSocket"/> fills in the sequence number and port id when it sends.
/// </summary>
internal sealed class NetlinkMessageBuilder
{
    private byte[] _buffer = new byte[256];
    private int _length;
    private readonly Stack<int> _nests = new();

    public NetlinkMessageBuilder(ushort type, ushort flags)
    {
        Type = type;
        Flags = flags;
        _length = LinuxNetlink.NLMSG_HDRLEN;
    }

    /// <summary>nlmsg_type: RTM_NEWLINK, RTM_GETROUTE, …</summary>
    public ushort Type { get; }

    /// <summary>nlmsg_flags; the socket adds NLM_F_REQUEST and NLM_F_ACK.</summary>
    public ushort Flags { get; set; }

    /// <summary>Bytes written so far, the nlmsghdr included.</summary>
    public int Length => _length;

    /// <summary>Appends a fixed-size family header (must come before any attribute).</summary>
    public NetlinkMessageBuilder Header<T>(in T header) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in header));
        Append(bytes);
        return this;
    }

    /// <summary>An attribute with a raw payload.</summary>
    public NetlinkMessageBuilder Attribute(ushort type, ReadOnlySpan<byte> payload)
    {
        int total = LinuxNetlink.NLA_HDRLEN + payload.Length;
        if (total > ushort.MaxValue)
        {
            throw new ArgumentException($"netlink attribute {type} is {payload.Length} bytes; at most {ushort.MaxValue - LinuxNetlink.NLA_HDRLEN} fit", nameof(payload));
        }
        Span<byte> header = stackalloc byte[LinuxNetlink.NLA_HDRLEN];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)total);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], type);
        Append(header);
        Append(payload);
        return this;
    }

    public NetlinkMessageBuilder Attribute(ushort type, byte value) => Attribute(type, [value]);

    public NetlinkMessageBuilder Attribute(ushort type, ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, value);
        return Attribute(type, bytes);
    }

    public NetlinkMessageBuilder Attribute(ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return Attribute(type, bytes);
    }

    public NetlinkMessageBuilder Attribute(ushort type, int value) => Attribute(type, unchecked((uint)value));

    /// <summary>A NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING both accept it).</summary>
    public NetlinkMessageBuilder Attribute(ushort type, string value)
    {
        int size = Encoding.UTF8.GetByteCount(value) + 1;
        Span<byte> bytes = size <= 256 ? stackalloc byte[size] : new byte[size];
        Encoding.UTF8.GetBytes(value, bytes);
        bytes[^1] = 0;
        return Attribute(type, bytes);
    }

    /// <summary>An IPv4 (4 bytes) or IPv6 (16 bytes) address in network byte order.</summary>
    public NetlinkMessageBuilder Attribute(ushort type, IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            throw new ArgumentException($"cannot encode address {address}", nameof(address));
        }
        return Attribute(type, bytes[..written]);
    }

    /// <summary>An attribute whose payload is a struct (tc_u32_sel, tc_mirred, …).</summary>
    public NetlinkMessageBuilder StructAttribute<T>(ushort type, in T value) where T : unmanaged =>
        Attribute(type, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    /// <summary>Opens a nested attribute; close it with <see cref="EndNested"/>. The NLA_F_NESTED
    /// bit is not set: the kernel's older policies (IFLA_LINKINFO, TCA_OPTIONS) do not need it and
    /// iproute2 does not send it either.</summary>
    public NetlinkMessageBuilder BeginNested(ushort type)
    {
        _nests.Push(_length);
        Span<byte> header = stackalloc byte[LinuxNetlink.NLA_HDRLEN];
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], type);
        Append(header);
        return this;
    }

    /// <summary>Closes the innermost nested attribute, fixing its length.</summary>
    public NetlinkMessageBuilder EndNested()
    {
        if (!_nests.TryPop(out int start))
        {
            throw new InvalidOperationException("EndNested without BeginNested");
        }
        int length = _length - start;
        if (length > ushort.MaxValue)
        {
            throw new InvalidOperationException($"nested netlink attribute is {length} bytes; at most {ushort.MaxValue} fit");
        }
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)length);
        return this;
    }

    /// <summary>The finished message with <paramref name="sequence"/> and <paramref name="portId"/> in its header.</summary>
    public ReadOnlySpan<byte> Complete(uint sequence, uint portId)
    {
        if (_nests.Count != 0)
        {
            throw new InvalidOperationException($"{_nests.Count} nested attribute(s) not closed");
        }
        var header = new NlMsgHdr
        {
            nlmsg_len = (uint)_length,
            nlmsg_type = Type,
            nlmsg_flags = Flags,
            nlmsg_seq = sequence,
            nlmsg_pid = portId,
        };
        MemoryMarshal.Write(_buffer, in header);
        return _buffer.AsSpan(0, _length);
    }

    /// <summary>A copy of the finished message (for tests and logs).</summary>
    public byte[] ToArray(uint sequence = 0, uint portId = 0) => Complete(sequence, portId).ToArray();

    /// <summary>Appends bytes and pads to the next 4-byte boundary.</summary>
    private void Append(ReadOnlySpan<byte> bytes)
    {
        int padded = LinuxNetlink.Align(bytes.Length);
        EnsureCapacity(_length + padded);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _buffer.AsSpan(_length + bytes.Length, padded - bytes.Length).Clear();
        _length += padded;
    }

    private void EnsureCapacity(int size)
    {
        if (size > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(size, _buffer.Length * 2));
        }
    }

    /// <summary>The AF_* value netlink headers use for an address family.</summary>
    public static byte Family(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => 2,
        AddressFamily.InterNetworkV6 => 10,
        AddressFamily.Unspecified => 0,
        _ => throw new ArgumentException($"address family {family} has no netlink value", nameof(family)),
    };
}
