using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct tcmsg (linux/rtnetlink.h), 20 bytes: the fixed part of qdisc, class and filter messages.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TcMsg
{
    public byte tcm_family;
    public byte tcm__pad1;
    public ushort tcm__pad2;
    public int tcm_ifindex;
    public uint tcm_handle;
    public uint tcm_parent;
    /// <summary>Filters: (priority &lt;&lt; 16) | protocol in network byte order.</summary>
    public uint tcm_info;
}
