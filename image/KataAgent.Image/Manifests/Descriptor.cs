using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>An OCI content descriptor: what a blob is, its digest and size.</summary>
public sealed record Descriptor
{
    /// <summary>The blob's media type.</summary>
    [JsonPropertyName("mediaType")]
    public string MediaType { get; init; } = "";

    /// <summary>The blob's digest as written (<see cref="References.Digest.Parse"/> validates it before use).</summary>
    [JsonPropertyName("digest")]
    public string Digest { get; init; } = "";

    /// <summary>The blob's size in bytes.</summary>
    [JsonPropertyName("size")]
    public long Size { get; init; }

    /// <summary>Where else the blob may be fetched from (foreign layers).</summary>
    [JsonPropertyName("urls")]
    public IReadOnlyList<string>? Urls { get; init; }

    /// <summary>The descriptor's annotations.</summary>
    [JsonPropertyName("annotations")]
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    /// <summary>The platform of an index entry.</summary>
    [JsonPropertyName("platform")]
    public Platform? Platform { get; init; }
}
