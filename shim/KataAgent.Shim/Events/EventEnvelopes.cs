using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataAgent.Protocols.Containerd.Events;

namespace KataAgent.Shim.Events;

/// <summary>
/// An event in the envelope containerd's exchange accepts (<c>events/exchange/exchange.go::validateEnvelope</c>):
/// the namespace, the topic, a non-zero timestamp, and the event as an Any whose type URL is the bare message name
/// (typeurl v1, which containerd 1.6 resolves by exact name: <c>Any.Pack</c>'s <c>type.googleapis.com/</c> prefix
/// would not resolve).
/// </summary>
internal static class EventEnvelopes
{
    /// <summary>Wraps <paramref name="event"/> (a task event) stamped with <paramref name="now"/>.</summary>
    public static Envelope Wrap(IMessage @event, string ns, DateTime now) => new()
    {
        Timestamp = Timestamp.FromDateTime(DateTime.SpecifyKind(now, DateTimeKind.Utc)),
        Namespace = ns,
        Topic = EventTopics.Of(@event),
        Event = new Any { TypeUrl = EventTopics.TypeUrl(@event), Value = @event.ToByteString() },
    };
}
