using System.Collections.Concurrent;
using Google.Protobuf;
using KataAgent.Shim.Events;

namespace KataAgent.Tests.Shim.Tasks;

/// <summary>The events a task service published, in order.</summary>
internal sealed class RecordingEventPublisher : IEventPublisher
{
    public ConcurrentQueue<IMessage> Events { get; } = new();

    public void Publish(IMessage @event)
    {
        EventTopics.Of(@event); // a task event, or the publisher would refuse it
        Events.Enqueue(@event);
    }
}
