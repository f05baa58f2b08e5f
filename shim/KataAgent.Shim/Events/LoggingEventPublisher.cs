using Google.Protobuf;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Events;

/// <summary>
/// The publisher when the caller gives no <c>TTRPC_ADDRESS</c> (CRI-O): there is nobody to forward to, so each
/// event is only logged, as Kata's shim does.
/// </summary>
internal sealed class LoggingEventPublisher : IEventPublisher
{
    /// <inheritdoc/>
    public void Publish(IMessage @event)
    {
        ShimLog.Info($"event {EventTopics.Of(@event)} {EventTopics.TypeUrl(@event)} {JsonFormatter.Default.Format(@event)}");
    }
}
