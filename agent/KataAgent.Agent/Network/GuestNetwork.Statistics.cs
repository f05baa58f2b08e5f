using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Network;

/// <summary>Interface counters for StatsContainer.</summary>
public sealed partial class GuestNetwork
{
    /// <summary>
    /// The counters of every interface but loopback (IFLA_STATS64). Containers share the sandbox's
    /// network namespace, so every container of the pod reports the same interfaces, as Kata's agent does.
    /// </summary>
    public Task<List<NetworkStats>> ListStatisticsAsync(CancellationToken cancellationToken) =>
        ExclusiveAsync(() => Task.FromResult(Rtnl.ListLinks()
            .Where(link => !link.IsLoopback && link.Statistics is not null)
            .Select(link => new NetworkStats
            {
                Name = link.Name,
                RxBytes = link.Statistics!.RxBytes,
                RxPackets = link.Statistics.RxPackets,
                RxErrors = link.Statistics.RxErrors,
                RxDropped = link.Statistics.RxDropped,
                TxBytes = link.Statistics.TxBytes,
                TxPackets = link.Statistics.TxPackets,
                TxErrors = link.Statistics.TxErrors,
                TxDropped = link.Statistics.TxDropped,
            }).ToList()), cancellationToken);
}
