using System.Runtime.CompilerServices;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Pods;

/// <summary>GetPod and WatchPod.</summary>
internal sealed partial class PodManager
{
    public PodStatus Get(string podId)
    {
        var pod = Require(podId);
        lock (pod.Watchers.Sync)
        {
            return Snapshot(pod);
        }
    }

    /// <summary>
    /// The gate's status and one event per container first, then every change, until the pod is deleted (the last
    /// event is PodDeleted) or <paramref name="cancellationToken"/> fires. A watcher that falls too far behind ends
    /// with RESOURCE_EXHAUSTED (<see cref="PodWatchers"/>).
    /// </summary>
    public async IAsyncEnumerable<PodEvent> WatchAsync(string podId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pod = Require(podId);
        var reader = pod.Watchers.Subscribe(() =>
        {
            var now = Snapshot(pod);
            return [new PodEvent { Gate = now.Gate }, .. now.Containers.Select(c => new PodEvent { Container = c })];
        });
        try
        {
            await foreach (var e in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }
        finally
        {
            pod.Watchers.Unsubscribe(reader);
        }
    }
}
