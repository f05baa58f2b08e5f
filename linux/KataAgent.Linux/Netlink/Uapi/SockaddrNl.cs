using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct sockaddr_nl (linux/netlink.h), 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockaddrNl
{
    public ushort nl_family;
    public ushort nl_pad;
    /// <summary>Port id; 0 in bind lets the kernel assign one, 0 as a destination is the kernel.</summary>
    public uint nl_pid;
    public uint nl_groups;
}
