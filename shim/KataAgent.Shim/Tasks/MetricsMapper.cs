using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Agent;
using Metrics = KataAgent.Protocols.Containerd.CgroupsV2.Metrics;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// The agent's StatsContainer answer (Kata's cgroup-v1-shaped CgroupStats, filled from the guest's cgroup v2 files)
/// as containerd's <c>io.containerd.cgroups.v2.Metrics</c>, what Stats returns and CRI and <c>ctr task metrics</c> decode.
/// </summary>
internal static class MetricsMapper
{
    /// <summary>The type URL containerd matches exactly (no type.googleapis.com/ prefix).</summary>
    public const string TypeUrl = "io.containerd.cgroups.v2.Metrics";

    /// <summary>The v2 metrics in <paramref name="stats"/>.</summary>
    public static Metrics ToMetrics(StatsContainerResponse stats) => throw new NotImplementedException();

    /// <summary><see cref="ToMetrics"/> packed as StatsResponse.stats wants it.</summary>
    public static Any ToAny(StatsContainerResponse stats) => throw new NotImplementedException();
}
