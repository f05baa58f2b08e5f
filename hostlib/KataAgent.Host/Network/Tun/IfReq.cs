using System.Runtime.InteropServices;

namespace KataAgent.Host.Network.Tun;

/// <summary>struct ifreq (linux/if.h) as TUNSETIFF uses it: the name, then ifr_flags in the 24-byte union.</summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
internal unsafe struct IfReq
{
    public fixed byte ifr_name[16];
    public short ifr_flags;
}
