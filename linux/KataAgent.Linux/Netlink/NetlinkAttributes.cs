using System.Buffers.Binary;
using System.Collections;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink;

/// <summary>
/// A decoded run of attributes, checked when parsed: each nla_len covers at least its header and
/// stays inside the run; the next attribute starts at the 4-byte boundary after it.
/// </summary>
internal sealed class NetlinkAttributes : IReadOnlyList<NetlinkAttribute>
{
    public static readonly NetlinkAttributes Empty = new([]);

    private readonly List<NetlinkAttribute> _attributes;

    private NetlinkAttributes(List<NetlinkAttribute> attributes) => _attributes = attributes;

    public int Count => _attributes.Count;

    public NetlinkAttribute this[int index] => _attributes[index];

    /// <summary>Parses <paramref name="bytes"/> as consecutive attributes.</summary>
    /// <exception cref="NetlinkFormatException">An attribute is truncated or its length is impossible.</exception>
    public static NetlinkAttributes Parse(ReadOnlyMemory<byte> bytes)
    {
        var list = new List<NetlinkAttribute>();
        int offset = 0;
        var span = bytes.Span;
        while (offset < span.Length)
        {
            int remaining = span.Length - offset;
            if (remaining < LinuxNetlink.NLA_HDRLEN)
            {
                throw new NetlinkFormatException($"truncated netlink attribute at offset {offset}: {remaining} bytes left, a header needs {LinuxNetlink.NLA_HDRLEN}");
            }
            int length = BinaryPrimitives.ReadUInt16LittleEndian(span[offset..]);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(span[(offset + 2)..]);
            if (length < LinuxNetlink.NLA_HDRLEN)
            {
                throw new NetlinkFormatException($"netlink attribute {type & LinuxNetlink.NLA_TYPE_MASK} at offset {offset} has length {length}, less than its header");
            }
            if (length > remaining)
            {
                throw new NetlinkFormatException($"truncated netlink attribute {type & LinuxNetlink.NLA_TYPE_MASK} at offset {offset}: length {length}, only {remaining} bytes left");
            }
            list.Add(new NetlinkAttribute(type, bytes.Slice(offset + LinuxNetlink.NLA_HDRLEN, length - LinuxNetlink.NLA_HDRLEN)));
            offset += Math.Min(LinuxNetlink.Align(length), remaining);
        }
        return new NetlinkAttributes(list);
    }

    /// <summary>The first attribute of <paramref name="type"/>, if any.</summary>
    public bool TryGet(ushort type, out NetlinkAttribute attribute)
    {
        foreach (var candidate in _attributes)
        {
            if (candidate.Type == type)
            {
                attribute = candidate;
                return true;
            }
        }
        attribute = default;
        return false;
    }

    public bool Contains(ushort type) => TryGet(type, out _);

    public uint? U32(ushort type) => TryGet(type, out var a) ? a.ReadU32() : null;

    public string? String(ushort type) => TryGet(type, out var a) ? a.ReadString() : null;

    public System.Net.IPAddress? IPAddress(ushort type) => TryGet(type, out var a) ? a.ReadIPAddress() : null;

    public byte[]? Bytes(ushort type) => TryGet(type, out var a) ? a.ReadBytes() : null;

    public NetlinkAttributes Nested(ushort type) => TryGet(type, out var a) ? a.Nested() : Empty;

    public IEnumerator<NetlinkAttribute> GetEnumerator() => _attributes.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
