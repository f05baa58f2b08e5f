namespace KataAgent.Agent.Footprint;

/// <summary>
/// When <see cref="HeapTrimmer"/> collects, apart from its clock: after at least <see cref="MinimumAllocated"/>
/// allocated since its last collection (or since it started), in a period with at most <see cref="IdleAllocation"/>
/// allocated (the agent is idle), and not within <see cref="MinimumInterval"/> of its last collection.
/// </summary>
internal sealed class HeapTrimPolicy(long allocated)
{
    /// <summary>The shortest time between two collections.</summary>
    internal static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(2);

    /// <summary>Less than this allocated since the last collection is not worth one.</summary>
    internal const long MinimumAllocated = 4L << 20;

    /// <summary>More than this allocated during one period means the agent is at work.</summary>
    internal const long IdleAllocation = 256L << 10;

    private long _atLastCollection = allocated;
    private long _atLastTick = allocated;
    private long? _lastCollection;

    /// <summary>
    /// Whether to collect now, at <paramref name="timestamp"/> of <paramref name="time"/>, with
    /// <paramref name="allocated"/> bytes allocated so far; called once per period.
    /// </summary>
    public bool ShouldCollect(long allocated, long timestamp, TimeProvider time)
    {
        long lastTick = _atLastTick;
        _atLastTick = allocated;
        return allocated - _atLastCollection >= MinimumAllocated
            && allocated - lastTick <= IdleAllocation
            && (_lastCollection is not { } last || time.GetElapsedTime(last, timestamp) >= MinimumInterval);
    }

    /// <summary>A collection has just been made, at <paramref name="timestamp"/>, with <paramref name="allocated"/> bytes allocated so far.</summary>
    public void Collected(long allocated, long timestamp)
    {
        _atLastCollection = allocated;
        _atLastTick = allocated;
        _lastCollection = timestamp;
    }
}
