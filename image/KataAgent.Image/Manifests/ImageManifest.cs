using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>An OCI image manifest or a Docker schema 2 manifest.</summary>
public sealed record ImageManifest
{
    /// <summary>2 for both formats.</summary>
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    /// <summary>The manifest's media type (optional in OCI).</summary>
    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    /// <summary>The image config blob.</summary>
    [JsonPropertyName("config")]
    public Descriptor Config { get; init; } = new();

    /// <summary>The layers, base first.</summary>
    [JsonPropertyName("layers")]
    public IReadOnlyList<Descriptor> Layers { get; init; } = [];

    /// <summary>The manifest's annotations.</summary>
    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
}
