using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct rtmsg (linux/rtnetlink.h), 12 bytes: the fixed part of RTM_*ROUTE messages.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RtMsg
{
    public byte rtm_family;
    public byte rtm_dst_len;
    public byte rtm_src_len;
    public byte rtm_tos;
    /// <summary>Routing table id; RTA_TABLE carries ids above 255.</summary>
    public byte rtm_table;
    /// <summary>RTPROT_*: who installed the route.</summary>
    public byte rtm_protocol;
    /// <summary>RT_SCOPE_*.</summary>
    public byte rtm_scope;
    /// <summary>RTN_*.</summary>
    public byte rtm_type;
    /// <summary>RTNH_F_* and RTM_F_*.</summary>
    public uint rtm_flags;
}
