namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>linux/if_addr.h: address attributes and flags.</summary>
internal static class LinuxIfAddr
{
    public const ushort IFA_ADDRESS = 1;
    public const ushort IFA_LOCAL = 2;
    public const ushort IFA_LABEL = 3;
    public const ushort IFA_BROADCAST = 4;
    public const ushort IFA_ANYCAST = 5;
    public const ushort IFA_CACHEINFO = 6;
    public const ushort IFA_MULTICAST = 7;
    public const ushort IFA_FLAGS = 8;

    public const uint IFA_F_SECONDARY = 0x01;
    public const uint IFA_F_NODAD = 0x02;
    public const uint IFA_F_OPTIMISTIC = 0x04;
    public const uint IFA_F_DADFAILED = 0x08;
    public const uint IFA_F_HOMEADDRESS = 0x10;
    public const uint IFA_F_DEPRECATED = 0x20;
    public const uint IFA_F_TENTATIVE = 0x40;
    public const uint IFA_F_PERMANENT = 0x80;
    public const uint IFA_F_NOPREFIXROUTE = 0x200;
}
