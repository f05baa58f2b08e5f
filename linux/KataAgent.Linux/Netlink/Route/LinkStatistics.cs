namespace KataAgent.Linux.Netlink.Route;

/// <summary>The first counters of struct rtnl_link_stats64 (IFLA_STATS64), in its order.</summary>
public sealed record LinkStatistics(
    ulong RxPackets,
    ulong TxPackets,
    ulong RxBytes,
    ulong TxBytes,
    ulong RxErrors,
    ulong TxErrors,
    ulong RxDropped,
    ulong TxDropped,
    ulong Multicast,
    ulong Collisions);
