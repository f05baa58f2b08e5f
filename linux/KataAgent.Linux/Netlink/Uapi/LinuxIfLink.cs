namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>linux/if_link.h (IFLA_*) and linux/veth.h: link attributes.</summary>
internal static class LinuxIfLink
{
    public const ushort IFLA_ADDRESS = 1;
    public const ushort IFLA_BROADCAST = 2;
    public const ushort IFLA_IFNAME = 3;
    public const ushort IFLA_MTU = 4;
    public const ushort IFLA_LINK = 5;
    public const ushort IFLA_QDISC = 6;
    public const ushort IFLA_STATS = 7;
    public const ushort IFLA_MASTER = 10;
    public const ushort IFLA_TXQLEN = 13;
    public const ushort IFLA_OPERSTATE = 16;
    public const ushort IFLA_LINKINFO = 18;
    public const ushort IFLA_IFALIAS = 20;
    public const ushort IFLA_STATS64 = 23;
    public const ushort IFLA_NET_NS_FD = 28;
    public const ushort IFLA_LINK_NETNSID = 37;
    public const ushort IFLA_MIN_MTU = 50;
    public const ushort IFLA_MAX_MTU = 51;
    public const ushort IFLA_PERM_ADDRESS = 54;

    // IFLA_LINKINFO nested attributes
    public const ushort IFLA_INFO_KIND = 1;
    public const ushort IFLA_INFO_DATA = 2;
    public const ushort IFLA_INFO_SLAVE_KIND = 4;

    /// <summary>linux/veth.h: inside IFLA_INFO_DATA, a struct ifinfomsg plus attributes for the peer.</summary>
    public const ushort VETH_INFO_PEER = 1;

    // IFLA_OPERSTATE values (RFC 2863)
    public const byte IF_OPER_UNKNOWN = 0;
    public const byte IF_OPER_NOTPRESENT = 1;
    public const byte IF_OPER_DOWN = 2;
    public const byte IF_OPER_LOWERLAYERDOWN = 3;
    public const byte IF_OPER_TESTING = 4;
    public const byte IF_OPER_DORMANT = 5;
    public const byte IF_OPER_UP = 6;

    /// <summary>linux/if_arp.h: ARPHRD_ETHER and ARPHRD_LOOPBACK, the link types a pod has.</summary>
    public const ushort ARPHRD_ETHER = 1;
    public const ushort ARPHRD_LOOPBACK = 772;

    /// <summary>linux/if_link.h: inside IFLA_INFO_DATA of a macvlan or macvtap.</summary>
    public const ushort IFLA_MACVLAN_MODE = 1;

    /// <summary>enum macvlan_mode: frames between macvlans on the same lower device go through directly.</summary>
    public const uint MACVLAN_MODE_BRIDGE = 4;
}
