using System.Runtime.InteropServices;

namespace KataAgent.Linux.Netlink.Uapi;

/// <summary>struct tc_mirred (linux/tc_act/tc_mirred.h), 28 bytes: tc_gen followed by the mirred fields.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TcMirred
{
    // tc_gen
    public uint index;
    public uint capab;
    /// <summary>TC_ACT_* verdict after mirroring (STOLEN for a redirect).</summary>
    public int action;
    public int refcnt;
    public int bindcnt;
    /// <summary>TCA_EGRESS_REDIR, TCA_EGRESS_MIRROR, …</summary>
    public int eaction;
    public uint ifindex;
}
