using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct tc_u32_key (linux/pkt_cls.h), 16 bytes: match (packet[off] &amp; mask) == val, both __be32.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TcU32Key
{
    public uint mask;
    public uint val;
    public int off;
    public int offmask;
}
