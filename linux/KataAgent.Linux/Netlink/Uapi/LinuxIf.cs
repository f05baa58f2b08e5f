namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>linux/if.h: device flags (ifi_flags) and the name limit.</summary>
internal static class LinuxIf
{
    public const uint IFF_UP = 0x1;
    public const uint IFF_BROADCAST = 0x2;
    public const uint IFF_DEBUG = 0x4;
    public const uint IFF_LOOPBACK = 0x8;
    public const uint IFF_POINTOPOINT = 0x10;
    public const uint IFF_NOTRAILERS = 0x20;
    public const uint IFF_RUNNING = 0x40;
    public const uint IFF_NOARP = 0x80;
    public const uint IFF_PROMISC = 0x100;
    public const uint IFF_ALLMULTI = 0x200;
    public const uint IFF_MASTER = 0x400;
    public const uint IFF_SLAVE = 0x800;
    public const uint IFF_MULTICAST = 0x1000;
    public const uint IFF_LOWER_UP = 0x10000;
    public const uint IFF_DORMANT = 0x20000;

    /// <summary>IFNAMSIZ, including the terminating NUL: names are at most 15 bytes.</summary>
    public const int IFNAMSIZ = 16;
}
