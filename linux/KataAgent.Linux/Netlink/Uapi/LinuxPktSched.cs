namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>
/// linux/pkt_sched.h, linux/pkt_cls.h and linux/tc_act/tc_mirred.h: the handles, u32 classifier
/// and mirred action that tcfilter networking needs; plus ETH_P_ALL from linux/if_ether.h.
/// </summary>
internal static class LinuxPktSched
{
    public const uint TC_H_UNSPEC = 0;
    public const uint TC_H_ROOT = 0xFFFFFFFF;

    /// <summary>The parent of an ingress (and clsact) qdisc.</summary>
    public const uint TC_H_INGRESS = 0xFFFFFFF1;

    /// <summary>TC_H_MAKE(TC_H_INGRESS, 0): the handle "ffff:" of an ingress qdisc, and the parent of its filters.</summary>
    public const uint TC_H_INGRESS_HANDLE = 0xFFFF0000;

    public const uint TC_H_MAJ_MASK = 0xFFFF0000;
    public const uint TC_H_MIN_MASK = 0x0000FFFF;

    /// <summary>ETH_P_ALL (if_ether.h): every protocol; tcm_info carries it in network byte order.</summary>
    public const ushort ETH_P_ALL = 0x0003;

    // enum TCA_U32_*
    public const ushort TCA_U32_CLASSID = 1;
    public const ushort TCA_U32_HASH = 2;
    public const ushort TCA_U32_LINK = 3;
    public const ushort TCA_U32_DIVISOR = 4;
    public const ushort TCA_U32_SEL = 5;
    public const ushort TCA_U32_POLICE = 6;
    public const ushort TCA_U32_ACT = 7;
    public const ushort TCA_U32_INDEV = 8;
    public const ushort TCA_U32_PCNT = 9;
    public const ushort TCA_U32_FLAGS = 11;

    // tc_u32_sel.flags
    public const byte TC_U32_TERMINAL = 1;
    public const byte TC_U32_OFFSET = 2;
    public const byte TC_U32_VAROFFSET = 4;
    public const byte TC_U32_EAT = 8;

    // enum TCA_ACT_* (inside each numbered element of an action list)
    public const ushort TCA_ACT_KIND = 1;
    public const ushort TCA_ACT_OPTIONS = 2;
    public const ushort TCA_ACT_INDEX = 3;
    public const ushort TCA_ACT_STATS = 4;

    // TC_ACT_* verdicts
    public const int TC_ACT_OK = 0;
    public const int TC_ACT_RECLASSIFY = 1;
    public const int TC_ACT_SHOT = 2;
    public const int TC_ACT_PIPE = 3;
    public const int TC_ACT_STOLEN = 4;

    // tc_mirred.h
    public const ushort TCA_MIRRED_TM = 1;
    public const ushort TCA_MIRRED_PARMS = 2;
    public const int TCA_EGRESS_REDIR = 1;
    public const int TCA_EGRESS_MIRROR = 2;
    public const int TCA_INGRESS_REDIR = 3;
    public const int TCA_INGRESS_MIRROR = 4;
}
