using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct ndmsg (linux/neighbour.h), 12 bytes: the fixed part of RTM_*NEIGH messages.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NdMsg
{
    public byte ndm_family;
    public byte ndm_pad1;
    public ushort ndm_pad2;
    public int ndm_ifindex;
    /// <summary>NUD_*.</summary>
    public ushort ndm_state;
    /// <summary>NTF_*.</summary>
    public byte ndm_flags;
    public byte ndm_type;
}
