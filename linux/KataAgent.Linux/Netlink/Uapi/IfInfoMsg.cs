using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct ifinfomsg (linux/rtnetlink.h), 16 bytes: the fixed part of RTM_*LINK messages.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IfInfoMsg
{
    public byte ifi_family;
    public byte __ifi_pad;
    /// <summary>ARPHRD_* link type.</summary>
    public ushort ifi_type;
    public int ifi_index;
    /// <summary>IFF_* flags.</summary>
    public uint ifi_flags;
    /// <summary>Which bits of <see cref="ifi_flags"/> a request changes.</summary>
    public uint ifi_change;
}
