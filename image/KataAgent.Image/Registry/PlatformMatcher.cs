using KataAgent.Image.Manifests;

namespace KataAgent.Image.Registry;

/// <summary>
/// Chooses an index entry for a platform (reference vm-io-imagepull.md §3.3): os and architecture equal; variants
/// compared with Go's defaults filled in (arm64 is v8, arm is v7 when unsaid); an unsaid wanted variant takes any,
/// preferring an entry without one; BuildKit attestation entries (<c>unknown/unknown</c>) are never chosen.
/// </summary>
internal static class PlatformMatcher
{
    /// <summary>The annotation BuildKit puts on attestation entries.</summary>
    private const string ReferenceTypeAnnotation = "vnd.docker.reference.type";

    /// <summary>The entry to pull for <paramref name="platform"/>, or null when the index has none.</summary>
    public static Descriptor? Choose(IReadOnlyList<Descriptor> manifests, Platform platform)
    {
        var candidates = manifests.Where(d => !IsAttestation(d) && d.Platform is not null && SameOsAndArchitecture(d.Platform, platform)).ToList();
        var wanted = NormalVariant(platform.Architecture, platform.Variant);
        if (wanted is null)
            return candidates.FirstOrDefault(d => d.Platform!.Variant is null) ?? candidates.FirstOrDefault();
        return candidates.FirstOrDefault(d => NormalVariant(d.Platform!.Architecture, d.Platform.Variant) == wanted);
    }

    /// <summary>True when an image config built for <paramref name="os"/>/<paramref name="architecture"/> runs on the platform.</summary>
    public static bool ConfigMatches(string? os, string? architecture, string? variant, Platform platform)
    {
        if (!string.Equals(os, platform.Os, StringComparison.Ordinal) || !string.Equals(architecture, platform.Architecture, StringComparison.Ordinal))
            return false;
        var wanted = NormalVariant(platform.Architecture, platform.Variant);
        return wanted is null || variant is null || NormalVariant(architecture, variant) == wanted;
    }

    /// <summary>True for a BuildKit attestation (provenance, SBOM) entry: not an image.</summary>
    public static bool IsAttestation(Descriptor descriptor) =>
        (descriptor.Platform is { Os: "unknown", Architecture: "unknown" })
        || (descriptor.Annotations is not null && descriptor.Annotations.TryGetValue(ReferenceTypeAnnotation, out var type) && type == "attestation-manifest");

    /// <summary>The platforms an index offers, for an error message.</summary>
    public static string Describe(IReadOnlyList<Descriptor> manifests)
    {
        var platforms = manifests.Where(d => !IsAttestation(d) && d.Platform is not null).Select(d => d.Platform!.ToString()).Distinct().ToList();
        return platforms.Count == 0 ? "none" : string.Join(", ", platforms);
    }

    private static bool SameOsAndArchitecture(Platform have, Platform want) =>
        string.Equals(have.Os, want.Os, StringComparison.Ordinal) && string.Equals(have.Architecture, want.Architecture, StringComparison.Ordinal);

    private static string? NormalVariant(string? architecture, string? variant) => architecture switch
    {
        "arm64" => string.IsNullOrEmpty(variant) ? "v8" : variant,
        "arm" => string.IsNullOrEmpty(variant) ? "v7" : variant,
        _ => string.IsNullOrEmpty(variant) ? null : variant,
    };
}
