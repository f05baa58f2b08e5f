using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>
/// struct tc_u32_sel (linux/pkt_cls.h), 16 bytes; <see cref="nkeys"/> struct tc_u32_key follow it
/// in TCA_U32_SEL. The __be fields are stored as the kernel sees them (network byte order).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TcU32Sel
{
    /// <summary>TC_U32_*.</summary>
    public byte flags;
    public byte offshift;
    public byte nkeys;
    public ushort offmask;
    public ushort off;
    public short offoff;
    public short hoff;
    public uint hmask;
}
