using System.Text.Json.Serialization;

namespace KataAgent.Image.Registry;

/// <summary>A registry's error body.</summary>
internal sealed record RegistryErrorResponse
{
    /// <summary>The errors.</summary>
    [JsonPropertyName("errors")]
    public IReadOnlyList<RegistryError>? Errors { get; init; }
}
