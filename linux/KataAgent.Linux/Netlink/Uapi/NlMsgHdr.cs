using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct nlmsghdr (linux/netlink.h), 16 bytes, host byte order. Fields keep the header's names.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NlMsgHdr
{
    /// <summary>Length of the message including this header (not including trailing padding).</summary>
    public uint nlmsg_len;
    public ushort nlmsg_type;
    public ushort nlmsg_flags;
    public uint nlmsg_seq;
    /// <summary>Sending port id: the kernel is 0; a reply carries the requester's.</summary>
    public uint nlmsg_pid;
}
