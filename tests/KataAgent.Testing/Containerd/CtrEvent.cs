using System.Text.Json;

namespace KataAgent.Testing.Containerd;

/// <summary>One event as <c>ctr events</c> printed it.</summary>
/// <param name="Topic">The topic, e.g. <c>/tasks/exit</c>.</param>
/// <param name="Payload">The event message as JSON (Go's field names: <c>container_id</c>, <c>exit_status</c>, …).</param>
/// <param name="Line">The whole line ctr printed.</param>
public sealed record CtrEvent(string Topic, JsonElement Payload, string Line)
{
    /// <inheritdoc />
    public override string ToString() => Line;
}
