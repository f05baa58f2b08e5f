namespace KataAgent.Agent.MemAgent;

/// <summary>
/// The compactor's settings, with Kata mem-agent's defaults (src/mem-agent/src/compact.rs): every
/// <see cref="PeriodSecs"/>, when pressure stayed under <see cref="PeriodPsiPercentLimit"/> and
/// enough free movable memory sits in blocks smaller than 2^<see cref="CompactOrder"/> pages
/// (<see cref="CompactThreshold"/> pages more than after the last compaction, or free memory fell by
/// as much), the whole guest is compacted, for at most <see cref="CompactSecMax"/> seconds and only
/// while pressure stays under <see cref="CompactPsiPercentLimit"/>.
/// </summary>
public sealed record CompactSettings
{
    /// <summary>Order 9 (2 MiB): the smallest block free page reporting hands back to the host.</summary>
    public const uint PageReportingMinOrder = 9;

    /// <summary>Whether the compactor is off.</summary>
    public bool Disabled { get; init; }

    /// <summary>Seconds between two checks.</summary>
    public ulong PeriodSecs { get; init; } = 10 * 60;

    /// <summary>No compaction when memory+io pressure over the period exceeded this percentage.</summary>
    public uint PeriodPsiPercentLimit { get; init; } = 1;

    /// <summary>A running compaction is stopped when pressure exceeds this percentage.</summary>
    public uint CompactPsiPercentLimit { get; init; } = 5;

    /// <summary>Longest a compaction may run, in seconds.</summary>
    public long CompactSecMax { get; init; } = 30 * 60;

    /// <summary>The order of the blocks compaction should produce; smaller free blocks count as fragmented.</summary>
    public uint CompactOrder { get; init; } = PageReportingMinOrder;

    /// <summary>Pages of growth in fragmented free memory (or fall in free memory) that make compaction worth running.</summary>
    public ulong CompactThreshold { get; init; } = 2UL << (int)PageReportingMinOrder;

    /// <summary>After this many checks without compaction one is forced; <see cref="ulong.MaxValue"/>: never (the default).</summary>
    public ulong CompactForceTimes { get; init; } = ulong.MaxValue;
}
