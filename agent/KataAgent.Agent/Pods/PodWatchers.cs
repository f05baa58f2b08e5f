using System.Threading.Channels;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Pods;

/// <summary>
/// WatchPod's subscribers of one pod. Publishing never waits: each watcher has a queue of
/// <see cref="Capacity"/> events, and a watcher that lets its queue fill is cut off (its stream ends with
/// RESOURCE_EXHAUSTED) rather than slowing the agent or silently missing events; it may watch again, and starts from
/// the current status. Subscribing and publishing share one lock with the pod's state changes, so a new watcher's
/// first events (the status then) and the changes after them never overlap or leave a gap.
/// </summary>
internal sealed class PodWatchers
{
    /// <summary>Events a watcher may fall behind by.</summary>
    public const int Capacity = 1024;

    private readonly List<Channel<PodEvent>> _watchers = [];
    private bool _ended;

    /// <summary>The lock every change of the pod's reported state takes, with its publication.</summary>
    public object Sync { get; } = new();

    /// <summary>A new watcher: <paramref name="current"/> (taken under <see cref="Sync"/>) first, then each change.</summary>
    public ChannelReader<PodEvent> Subscribe(Func<IEnumerable<PodEvent>> current)
    {
        var channel = Channel.CreateBounded<PodEvent>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        lock (Sync)
        {
            foreach (var e in current())
            {
                if (!channel.Writer.TryWrite(e))
                {
                    channel.Writer.TryComplete(Overflow());
                    return channel.Reader;
                }
            }
            if (_ended)
            {
                channel.Writer.TryWrite(new PodEvent { Deleted = new PodDeleted() });
                channel.Writer.TryComplete();
            }
            else
            {
                _watchers.Add(channel);
            }
        }
        return channel.Reader;
    }

    /// <summary>Forgets a watcher that went away.</summary>
    public void Unsubscribe(ChannelReader<PodEvent> reader)
    {
        lock (Sync)
        {
            _watchers.RemoveAll(w => w.Reader == reader);
        }
    }

    /// <summary>Hands <paramref name="e"/> to every watcher; call under <see cref="Sync"/>, with the change it reports.</summary>
    public void Publish(PodEvent e)
    {
        lock (Sync)
        {
            for (int i = _watchers.Count - 1; i >= 0; i--)
            {
                if (!_watchers[i].Writer.TryWrite(e))
                {
                    _watchers[i].Writer.TryComplete(Overflow());
                    _watchers.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>The pod is gone: every watcher gets PodDeleted and its stream ends.</summary>
    public void End()
    {
        lock (Sync)
        {
            Publish(new PodEvent { Deleted = new PodDeleted() });
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }
            _watchers.Clear();
            _ended = true;
        }
    }

    private static AgentException Overflow() =>
        new(AgentErrorKind.ResourceExhausted, null, $"this watcher fell {Capacity} events behind and was cut off; watch again for the current status");
}
