using Microsoft.Extensions.Hosting;

namespace KataAgent.Agent.Footprint;

/// <summary>
/// Gives the garbage collector's idle memory back to the guest once the agent goes quiet after a burst of work.
/// </summary>
/// <remarks>
/// Starting the server and its first connections allocate several MiB (about 8 now, 27 before the start
/// stopped building protobuf reflection), of which a few stay alive; the GC keeps the regions it has used committed
/// for the next burst, which in a guest that sits idle between RPCs is memory no container can use (measured in
/// docs/BENCHMARKS.md, "Agent memory, exec and round trips": half of the agent's anonymous memory). Go's runtime
/// returns such memory with its background scavenger; here one full, compacting, decommitting collection
/// (<see cref="GCCollectionMode.Aggressive"/>) does it, and only when it pays: at least
/// <see cref="HeapTrimPolicy.MinimumAllocated"/> allocated since the last one, almost nothing allocated during the last
/// <see cref="Period"/> (the agent is idle, so nothing is interrupted and the collection finds the heap at its
/// smallest), and not more often than <see cref="HeapTrimPolicy.MinimumInterval"/>. A collection of the agent's few MiB of live
/// objects takes a few milliseconds; a busy agent never pays it.
/// </remarks>
internal sealed class HeapTrimmer : BackgroundService
{
    /// <summary>How often the allocation counter is read.</summary>
    internal static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // What the process allocated before this service started (the server's start) counts: most of it is garbage by now.
        var policy = new HeapTrimPolicy(allocated: 0);
        using var timer = new PeriodicTimer(Period, TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (policy.ShouldCollect(Allocated(), TimeProvider.System.GetTimestamp(), TimeProvider.System))
                {
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    policy.Collected(Allocated(), TimeProvider.System.GetTimestamp());
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static long Allocated() => GC.GetTotalAllocatedBytes(precise: false);
}
