using Google.Protobuf;
using KataAgent.Shim.Events;

namespace KataAgent.VmTests.Shim;

/// <summary>The events a task service published, in order, as containerd would receive them.</summary>
internal sealed class RecordingEvents : IEventPublisher
{
    private readonly List<IMessage> _events = [];

    public void Publish(IMessage @event)
    {
        EventTopics.Of(@event);
        lock (_events)
        {
            _events.Add(@event);
        }
    }

    /// <summary>The events so far about container <paramref name="containerId"/>, as "topic id[:status]".</summary>
    public List<string> About(string containerId)
    {
        lock (_events)
        {
            return [.. _events.Select(Describe).Where(d => d.Container == containerId).Select(d => d.Text)];
        }
    }

    /// <summary>Waits until <paramref name="predicate"/> holds for the events about <paramref name="containerId"/>.</summary>
    public async Task<List<string>> WaitForAsync(string containerId, Func<List<string>, bool> predicate, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var events = About(containerId);
            if (predicate(events) || DateTime.UtcNow > deadline)
            {
                return events;
            }
            await Task.Delay(50);
        }
    }

    private static (string Container, string Text) Describe(IMessage e) => e switch
    {
        KataAgent.Protocols.Containerd.Events.TaskCreate c => (c.ContainerId, "create"),
        KataAgent.Protocols.Containerd.Events.TaskStart s => (s.ContainerId, "start"),
        KataAgent.Protocols.Containerd.Events.TaskExit x => (x.ContainerId, $"exit {x.Id}:{x.ExitStatus}"),
        KataAgent.Protocols.Containerd.Events.TaskDelete d => (d.ContainerId, "delete"),
        KataAgent.Protocols.Containerd.Events.TaskExecAdded a => (a.ContainerId, $"exec-added {a.ExecId}"),
        KataAgent.Protocols.Containerd.Events.TaskExecStarted s => (s.ContainerId, $"exec-started {s.ExecId}"),
        KataAgent.Protocols.Containerd.Events.TaskPaused p => (p.ContainerId, "paused"),
        KataAgent.Protocols.Containerd.Events.TaskResumed r => (r.ContainerId, "resumed"),
        KataAgent.Protocols.Containerd.Events.TaskOOM o => (o.ContainerId, "oom"),
        KataAgent.Protocols.Containerd.Events.TaskCheckpointed c => (c.ContainerId, $"checkpointed {c.Checkpoint}"),
        _ => ("", e.Descriptor.Name),
    };
}
