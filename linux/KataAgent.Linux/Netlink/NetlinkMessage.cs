using System.Runtime.InteropServices;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink;

/// <summary>One decoded netlink message: its nlmsghdr fields and the payload after the header.</summary>
internal readonly struct NetlinkMessage
{
    public NetlinkMessage(in NlMsgHdr header, ReadOnlyMemory<byte> payload)
    {
        Type = header.nlmsg_type;
        Flags = header.nlmsg_flags;
        Sequence = header.nlmsg_seq;
        PortId = header.nlmsg_pid;
        Payload = payload;
    }

    public ushort Type { get; }

    public ushort Flags { get; }

    public uint Sequence { get; }

    public uint PortId { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The family's fixed header at the start of the payload (ifinfomsg, rtmsg, …).</summary>
    public T Header<T>() where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        if (Payload.Length < size)
        {
            throw new NetlinkFormatException($"netlink message type {Type}: payload of {Payload.Length} bytes is shorter than its {typeof(T).Name} ({size} bytes)");
        }
        return MemoryMarshal.Read<T>(Payload.Span);
    }

    /// <summary>The attributes after a fixed header of type <typeparamref name="T"/>.</summary>
    public NetlinkAttributes Attributes<T>() where T : unmanaged
    {
        int start = LinuxNetlink.Align(Marshal.SizeOf<T>());
        if (Payload.Length < start)
        {
            throw new NetlinkFormatException($"netlink message type {Type}: payload of {Payload.Length} bytes is shorter than its {typeof(T).Name} ({start} bytes)");
        }
        return NetlinkAttributes.Parse(Payload[start..]);
    }

    /// <summary>Splits a received datagram into its messages, checking every length.</summary>
    /// <exception cref="NetlinkFormatException">A message is truncated or its length is impossible.</exception>
    public static List<NetlinkMessage> ParseAll(ReadOnlyMemory<byte> datagram)
    {
        var messages = new List<NetlinkMessage>();
        var span = datagram.Span;
        int offset = 0;
        while (offset < span.Length)
        {
            int remaining = span.Length - offset;
            if (remaining < LinuxNetlink.NLMSG_HDRLEN)
            {
                throw new NetlinkFormatException($"truncated netlink message at offset {offset}: {remaining} bytes left, a header needs {LinuxNetlink.NLMSG_HDRLEN}");
            }
            var header = MemoryMarshal.Read<NlMsgHdr>(span[offset..]);
            if (header.nlmsg_len < LinuxNetlink.NLMSG_HDRLEN)
            {
                throw new NetlinkFormatException($"netlink message at offset {offset} has length {header.nlmsg_len}, less than its header");
            }
            if (header.nlmsg_len > remaining)
            {
                throw new NetlinkFormatException($"truncated netlink message type {header.nlmsg_type} at offset {offset}: length {header.nlmsg_len}, only {remaining} bytes left");
            }
            int length = (int)header.nlmsg_len;
            messages.Add(new NetlinkMessage(header, datagram.Slice(offset + LinuxNetlink.NLMSG_HDRLEN, length - LinuxNetlink.NLMSG_HDRLEN)));
            offset += Math.Min(LinuxNetlink.Align(length), remaining);
        }
        return messages;
    }

    public override string ToString() => $"nlmsg {{ type={Type}, flags=0x{Flags:x}, seq={Sequence}, pid={PortId}, {Payload.Length} bytes }}";
}
