using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>An image platform with Go's names (<c>linux</c>/<c>amd64</c>, <c>arm64</c> with variant <c>v8</c>).</summary>
public sealed record Platform
{
    /// <summary>The operating system (<c>linux</c>).</summary>
    [JsonPropertyName("os")]
    public string Os { get; init; } = "linux";

    /// <summary>The architecture in Go's names (<c>amd64</c>, <c>arm64</c>, <c>arm</c>).</summary>
    [JsonPropertyName("architecture")]
    public string Architecture { get; init; } = "";

    /// <summary>The CPU variant (<c>v8</c>, <c>v7</c>), or null.</summary>
    [JsonPropertyName("variant")]
    public string? Variant { get; init; }

    /// <summary>The OS version, used by Windows images only.</summary>
    [JsonPropertyName("os.version")]
    public string? OsVersion { get; init; }

    /// <summary>The platform this process runs on, which is the guest's too (the VM runs the host's architecture).</summary>
    public static Platform Current { get; } = RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => new Platform { Architecture = "amd64" },
        System.Runtime.InteropServices.Architecture.Arm64 => new Platform { Architecture = "arm64", Variant = "v8" },
        var other => new Platform { Architecture = other.ToString().ToLowerInvariant() },
    };

    /// <summary>Parses <c>os/arch[/variant]</c> as docker's <c>--platform</c> takes it.</summary>
    public static Platform Parse(string value)
    {
        var parts = value.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(string.IsNullOrWhiteSpace))
            throw new ImageException(ImageErrorKind.InvalidInput, $"platform '{value}' is not os/arch[/variant]");
        return new Platform { Os = parts[0], Architecture = parts[1], Variant = parts.Length == 3 ? parts[2] : null };
    }

    /// <inheritdoc/>
    public override string ToString() => Os + "/" + Architecture + (Variant is null ? "" : "/" + Variant);
}
