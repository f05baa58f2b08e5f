using System.Text.Json.Serialization;

namespace KataAgent.Image.Store;

/// <summary>One image record on disk (<c>images/&lt;sha256 of the name&gt;.json</c>): a name and what it names.</summary>
internal sealed record ImageRecord
{
    /// <summary>The canonical reference the image is stored under.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init; } = "";

    /// <summary>The platform manifest's digest.</summary>
    [JsonPropertyName("manifest")]
    public string Manifest { get; init; } = "";

    /// <summary>The index the manifest was chosen from, kept with the image (null without one).</summary>
    [JsonPropertyName("index")]
    public string? Index { get; init; }

    /// <summary>When the record was written.</summary>
    [JsonPropertyName("stored")]
    public DateTimeOffset Stored { get; init; }
}
