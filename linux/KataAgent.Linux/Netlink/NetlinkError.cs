using System.Buffers.Binary;
using System.Runtime.InteropServices;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink;

/// <summary>
/// The payload of NLMSG_ERROR (struct nlmsgerr) and of a failed dump's NLMSG_DONE: a negative
/// errno (0 is an acknowledgement), the request's header (its payload too unless NLM_F_CAPPED),
/// then, with NLM_F_ACK_TLVS, the extended-ack attributes: the kernel's text and the offset of
/// the attribute it rejected.
/// </summary>
internal readonly record struct NetlinkError(int Errno, string? Message, uint? BadAttributeOffset)
{
    /// <summary>Decodes an NLMSG_ERROR message.</summary>
    public static NetlinkError FromErrorMessage(in NetlinkMessage message)
    {
        var payload = message.Payload.Span;
        if (payload.Length < 4 + LinuxNetlink.NLMSG_HDRLEN)
        {
            throw new NetlinkFormatException($"NLMSG_ERROR payload is {payload.Length} bytes; struct nlmsgerr needs {4 + LinuxNetlink.NLMSG_HDRLEN}");
        }
        int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if ((message.Flags & LinuxNetlink.NLM_F_ACK_TLVS) == 0)
        {
            return new NetlinkError(-error, null, null);
        }
        var request = MemoryMarshal.Read<NlMsgHdr>(payload[4..]);
        int tlvStart = 4 + ((message.Flags & LinuxNetlink.NLM_F_CAPPED) != 0
            ? LinuxNetlink.NLMSG_HDRLEN
            : LinuxNetlink.Align((int)request.nlmsg_len));
        if (tlvStart > payload.Length)
        {
            throw new NetlinkFormatException($"NLMSG_ERROR: the echoed request ({request.nlmsg_len} bytes) runs past the {payload.Length}-byte payload");
        }
        return WithTlvs(-error, message.Payload[tlvStart..]);
    }

    /// <summary>Decodes an NLMSG_DONE payload (an int, then extended-ack attributes).</summary>
    public static NetlinkError FromDoneMessage(in NetlinkMessage message)
    {
        var payload = message.Payload;
        if (payload.Length < 4)
        {
            return new NetlinkError(0, null, null);
        }
        int error = BinaryPrimitives.ReadInt32LittleEndian(payload.Span);
        return (message.Flags & LinuxNetlink.NLM_F_ACK_TLVS) != 0 ? WithTlvs(-error, payload[4..]) : new NetlinkError(-error, null, null);
    }

    private static NetlinkError WithTlvs(int errno, ReadOnlyMemory<byte> tlvs)
    {
        var attributes = NetlinkAttributes.Parse(tlvs);
        return new NetlinkError(errno, attributes.String(LinuxNetlink.NLMSGERR_ATTR_MSG), attributes.U32(LinuxNetlink.NLMSGERR_ATTR_OFFS));
    }
}
