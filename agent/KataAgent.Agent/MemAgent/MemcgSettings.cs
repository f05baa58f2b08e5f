namespace KataAgent.Agent.MemAgent;

/// <summary>
/// The memcg reclaimer's settings, with Kata mem-agent's defaults (src/mem-agent/src/memcg.rs):
/// every <see cref="PeriodSecs"/>, each memory cgroup whose pressure stayed under
/// <see cref="PeriodPsiPercentLimit"/> gets an MGLRU aging pass, and after
/// <see cref="EvictionRunAgingCountMin"/> of them its oldest generation is evicted while pressure
/// stays under <see cref="EvictionPsiPercentLimit"/>.
/// </summary>
public sealed record MemcgSettings
{
    /// <summary>Whether the reclaimer is off.</summary>
    public bool Disabled { get; init; }

    /// <summary>Whether anonymous pages may be evicted to swap (only while free swap remains).</summary>
    public bool Swap { get; init; }

    /// <summary>Upper bound of the swappiness an eviction uses (0..200, MGLRU's range).</summary>
    public uint SwappinessMax { get; init; } = 50;

    /// <summary>Seconds between two passes.</summary>
    public ulong PeriodSecs { get; init; } = 10 * 60;

    /// <summary>A cgroup whose memory+io pressure over the period exceeded this percentage is left alone.</summary>
    public uint PeriodPsiPercentLimit { get; init; } = 1;

    /// <summary>Eviction stops when pressure during it exceeds this percentage.</summary>
    public uint EvictionPsiPercentLimit { get; init; } = 1;

    /// <summary>Aging passes a cgroup must have had before it is evicted from.</summary>
    public ulong EvictionRunAgingCountMin { get; init; } = 3;
}
