namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>linux/neighbour.h: neighbour attributes, NUD states and NTF flags.</summary>
internal static class LinuxNeighbour
{
    public const ushort NDA_DST = 1;
    public const ushort NDA_LLADDR = 2;
    public const ushort NDA_CACHEINFO = 3;
    public const ushort NDA_PROBES = 4;

    public const ushort NUD_NONE = 0x00;
    public const ushort NUD_INCOMPLETE = 0x01;
    public const ushort NUD_REACHABLE = 0x02;
    public const ushort NUD_STALE = 0x04;
    public const ushort NUD_DELAY = 0x08;
    public const ushort NUD_PROBE = 0x10;
    public const ushort NUD_FAILED = 0x20;
    public const ushort NUD_NOARP = 0x40;
    public const ushort NUD_PERMANENT = 0x80;

    public const byte NTF_USE = 0x01;
    public const byte NTF_SELF = 0x02;
    public const byte NTF_MASTER = 0x04;
    public const byte NTF_PROXY = 0x08;
    public const byte NTF_EXT_LEARNED = 0x10;
    public const byte NTF_ROUTER = 0x80;
}
