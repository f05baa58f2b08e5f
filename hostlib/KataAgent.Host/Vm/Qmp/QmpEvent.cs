using System.Text.Json;

namespace KataAgent.Host.Vm;

/// <summary>An asynchronous QMP event, e.g. <c>DEVICE_DELETED</c> with <c>data.device</c>.</summary>
/// <param name="Name">The event name.</param>
/// <param name="Data">The event's <c>data</c> object (an empty object when qemu sent none).</param>
/// <param name="Timestamp">When qemu emitted it.</param>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp)
{
    /// <summary>A string member of <see cref="Data"/>, or null.</summary>
    public string? DataString(string name) =>
        Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
