using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>The image config's <c>rootfs</c>: the digests of the uncompressed layers, base first.</summary>
public sealed record ImageRootfs
{
    /// <summary><c>layers</c>.</summary>
    [JsonPropertyName("type")]
    public string Type { get; init; } = "layers";

    /// <summary>The sha256 of each layer's uncompressed tar, in the manifest's layer order.</summary>
    [JsonPropertyName("diff_ids")]
    public IReadOnlyList<string> DiffIds { get; init; } = [];
}
