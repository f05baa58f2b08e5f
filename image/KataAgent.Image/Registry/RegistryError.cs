using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataAgent.Image.Registry;

/// <summary>One entry of a registry's error body (<c>{"errors":[{"code","message","detail"}]}</c>).</summary>
internal sealed record RegistryError
{
    /// <summary>The code (<c>MANIFEST_UNKNOWN</c>, <c>UNAUTHORIZED</c>, …).</summary>
    [JsonPropertyName("code")]
    public string? Code { get; init; }

    /// <summary>The registry's text.</summary>
    [JsonPropertyName("message")]
    public string? Message { get; init; }

    /// <summary>Free-form detail, any JSON.</summary>
    [JsonPropertyName("detail")]
    public JsonElement? Detail { get; init; }
}
