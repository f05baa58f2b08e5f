using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>The image config blob (OCI image-spec config.md; Docker's has the same fields).</summary>
public sealed record ImageConfig
{
    /// <summary>The architecture the image is built for.</summary>
    [JsonPropertyName("architecture")]
    public string? Architecture { get; init; }

    /// <summary>The operating system the image is built for.</summary>
    [JsonPropertyName("os")]
    public string? Os { get; init; }

    /// <summary>The CPU variant.</summary>
    [JsonPropertyName("variant")]
    public string? Variant { get; init; }

    /// <summary>When the image was created (RFC 3339), as written.</summary>
    [JsonPropertyName("created")]
    public string? Created { get; init; }

    /// <summary>The execution parameters.</summary>
    [JsonPropertyName("config")]
    public ImageRunConfig? Config { get; init; }

    /// <summary>The uncompressed layers' digests.</summary>
    [JsonPropertyName("rootfs")]
    public ImageRootfs? Rootfs { get; init; }
}
