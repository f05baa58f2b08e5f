using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct ifaddrmsg (linux/if_addr.h), 8 bytes: the fixed part of RTM_*ADDR messages.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IfAddrMsg
{
    public byte ifa_family;
    public byte ifa_prefixlen;
    /// <summary>IFA_F_* (the low 8 bits; IFA_FLAGS carries all 32).</summary>
    public byte ifa_flags;
    public byte ifa_scope;
    public uint ifa_index;
}
