using Google.Protobuf;

namespace KataAgent.Shim.Events;

/// <summary>
/// Where the task service sends the events containerd expects (<see cref="EventTopics"/>). Publishing never blocks
/// and never fails the caller: events are queued and forwarded in the order they were published.
/// </summary>
internal interface IEventPublisher
{
    /// <summary>Queues <paramref name="event"/> (a <c>containerd.events</c> message) under its topic.</summary>
    void Publish(IMessage @event);
}
