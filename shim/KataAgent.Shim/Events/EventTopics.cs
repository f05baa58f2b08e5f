using Google.Protobuf;
using KataAgent.Protocols.Containerd.Events;

namespace KataAgent.Shim.Events;

/// <summary>The topic of each task event (containerd <c>runtime/events.go</c>).</summary>
internal static class EventTopics
{
    /// <summary>The topic <paramref name="event"/> is published under.</summary>
    /// <exception cref="ArgumentException">Not a task event.</exception>
    public static string Of(IMessage @event) => @event switch
    {
        TaskCreate => "/tasks/create",
        TaskStart => "/tasks/start",
        TaskExit => "/tasks/exit",
        TaskDelete => "/tasks/delete",
        TaskOOM => "/tasks/oom",
        TaskExecAdded => "/tasks/exec-added",
        TaskExecStarted => "/tasks/exec-started",
        TaskPaused => "/tasks/paused",
        TaskResumed => "/tasks/resumed",
        TaskCheckpointed => "/tasks/checkpointed",
        _ => throw new ArgumentException($"{@event.Descriptor.FullName} is not a task event", nameof(@event)),
    };

    /// <summary>The Any type URL containerd 1.6 resolves: the bare full name, no <c>type.googleapis.com/</c> prefix.</summary>
    public static string TypeUrl(IMessage message) => message.Descriptor.FullName;
}
