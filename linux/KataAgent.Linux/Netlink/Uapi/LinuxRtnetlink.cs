namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>linux/rtnetlink.h: message types, route attributes, tables, protocols, scopes, metrics.</summary>
internal static class LinuxRtnetlink
{
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_DELLINK = 17;
    public const ushort RTM_GETLINK = 18;
    public const ushort RTM_SETLINK = 19;
    public const ushort RTM_NEWADDR = 20;
    public const ushort RTM_DELADDR = 21;
    public const ushort RTM_GETADDR = 22;
    public const ushort RTM_NEWROUTE = 24;
    public const ushort RTM_DELROUTE = 25;
    public const ushort RTM_GETROUTE = 26;
    public const ushort RTM_NEWNEIGH = 28;
    public const ushort RTM_DELNEIGH = 29;
    public const ushort RTM_GETNEIGH = 30;
    public const ushort RTM_NEWQDISC = 36;
    public const ushort RTM_DELQDISC = 37;
    public const ushort RTM_GETQDISC = 38;
    public const ushort RTM_NEWTFILTER = 44;
    public const ushort RTM_DELTFILTER = 45;
    public const ushort RTM_GETTFILTER = 46;

    // enum rtattr_type_t
    public const ushort RTA_DST = 1;
    public const ushort RTA_SRC = 2;
    public const ushort RTA_IIF = 3;
    public const ushort RTA_OIF = 4;
    public const ushort RTA_GATEWAY = 5;
    public const ushort RTA_PRIORITY = 6;
    public const ushort RTA_PREFSRC = 7;
    public const ushort RTA_METRICS = 8;
    public const ushort RTA_MULTIPATH = 9;
    public const ushort RTA_TABLE = 15;
    public const ushort RTA_PREF = 20;

    // rtm_type
    public const byte RTN_UNSPEC = 0;
    public const byte RTN_UNICAST = 1;
    public const byte RTN_LOCAL = 2;
    public const byte RTN_BROADCAST = 3;
    public const byte RTN_ANYCAST = 4;
    public const byte RTN_MULTICAST = 5;
    public const byte RTN_BLACKHOLE = 6;
    public const byte RTN_UNREACHABLE = 7;
    public const byte RTN_PROHIBIT = 8;

    // rtm_protocol
    public const byte RTPROT_UNSPEC = 0;
    public const byte RTPROT_REDIRECT = 1;
    public const byte RTPROT_KERNEL = 2;
    public const byte RTPROT_BOOT = 3;
    public const byte RTPROT_STATIC = 4;

    // rtm_scope
    public const byte RT_SCOPE_UNIVERSE = 0;
    public const byte RT_SCOPE_SITE = 200;
    public const byte RT_SCOPE_LINK = 253;
    public const byte RT_SCOPE_HOST = 254;
    public const byte RT_SCOPE_NOWHERE = 255;

    // rtm_table (a u8; RTA_TABLE carries tables above 255)
    public const uint RT_TABLE_UNSPEC = 0;
    public const uint RT_TABLE_DEFAULT = 253;
    public const uint RT_TABLE_MAIN = 254;
    public const uint RT_TABLE_LOCAL = 255;

    // rtm_flags: the next-hop flags (RTNH_F_*) share this field with RTM_F_*.
    public const uint RTNH_F_DEAD = 1;
    public const uint RTNH_F_PERVASIVE = 2;
    public const uint RTNH_F_ONLINK = 4;
    public const uint RTNH_F_OFFLOAD = 8;
    public const uint RTNH_F_LINKDOWN = 16;
    public const uint RTM_F_NOTIFY = 0x100;
    public const uint RTM_F_CLONED = 0x200;

    // RTA_METRICS nested attributes
    public const ushort RTAX_LOCK = 1;
    public const ushort RTAX_MTU = 2;
    public const ushort RTAX_ADVMSS = 8;

    // tcmsg attributes (enum TCA_*), here as in rtnetlink.h
    public const ushort TCA_KIND = 1;
    public const ushort TCA_OPTIONS = 2;
    public const ushort TCA_STATS = 3;
    public const ushort TCA_XSTATS = 4;
    public const ushort TCA_STATS2 = 7;
    public const ushort TCA_CHAIN = 11;
}
