using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>An OCI image index or a Docker manifest list.</summary>
public sealed record ImageIndex
{
    /// <summary>2 for both formats.</summary>
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    /// <summary>The index's media type (optional in OCI).</summary>
    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    /// <summary>The manifests, one per platform (and attestation entries to skip).</summary>
    [JsonPropertyName("manifests")]
    public IReadOnlyList<Descriptor> Manifests { get; init; } = [];

    /// <summary>The index's annotations.</summary>
    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}
