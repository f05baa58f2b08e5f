using System.Net;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Registry;

/// <summary>The client's parts without a registry: challenge parsing, platform choice, the error-code mapping.</summary>
public sealed class RegistryPartsTests
{
    [Fact]
    public void Parses_bearer_and_basic_challenges_with_quoted_values()
    {
        var challenges = AuthChallenge.Parse("Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:a/b:pull,push\", Basic realm=\"x \\\"y\\\"\"");

        challenges.Should().HaveCount(2);
        challenges[0].Scheme.Should().Be("Bearer");
        challenges[0]["realm"].Should().Be("https://auth.example.com/token");
        challenges[0]["service"].Should().Be("registry.example.com");
        challenges[0]["scope"].Should().Be("repository:a/b:pull,push");
        challenges[1].Scheme.Should().Be("Basic");
        challenges[1]["realm"].Should().Be("x \"y\"");
    }

    [Fact]
    public void Chooses_platforms_with_gos_variant_defaults_and_never_an_attestation()
    {
        Descriptor Entry(string os, string arch, string? variant = null, bool attestation = false) => new()
        {
            MediaType = MediaTypes.OciManifest,
            Digest = $"sha256:{os}-{arch}-{variant}",
            Platform = new Platform { Os = os, Architecture = arch, Variant = variant },
            Annotations = attestation ? new Dictionary<string, string> { ["vnd.docker.reference.type"] = "attestation-manifest" } : null,
        };
        var list = new[]
        {
            Entry("unknown", "unknown"),
            Entry("linux", "amd64", attestation: true),
            Entry("linux", "arm", "v6"),
            Entry("linux", "arm", "v7"),
            Entry("linux", "arm64"),
            Entry("linux", "amd64", "v3"),
            Entry("linux", "amd64"),
        };

        PlatformMatcher.Choose(list, Platform.Parse("linux/amd64"))!.Digest.Should().Be("sha256:linux-amd64-", "no variant asked: the plain entry first, not the attestation");
        PlatformMatcher.Choose(list, Platform.Parse("linux/amd64/v3"))!.Digest.Should().Be("sha256:linux-amd64-v3");
        PlatformMatcher.Choose(list, Platform.Parse("linux/arm64/v8"))!.Digest.Should().Be("sha256:linux-arm64-", "arm64 without a variant is v8");
        PlatformMatcher.Choose(list, Platform.Parse("linux/arm"))!.Digest.Should().Be("sha256:linux-arm-v7", "arm without a variant is v7");
        PlatformMatcher.Choose(list, Platform.Parse("linux/arm/v6"))!.Digest.Should().Be("sha256:linux-arm-v6");
        PlatformMatcher.Choose(list, Platform.Parse("unknown/unknown")).Should().BeNull();
        PlatformMatcher.Choose(list, Platform.Parse("windows/amd64")).Should().BeNull();
    }

    [Theory]
    [InlineData("MANIFEST_UNKNOWN", 404, ImageErrorKind.NotFound)]
    [InlineData("BLOB_UNKNOWN", 404, ImageErrorKind.NotFound)]
    [InlineData("NAME_UNKNOWN", 404, ImageErrorKind.NotFound)]
    [InlineData("UNAUTHORIZED", 401, ImageErrorKind.Unauthorized)]
    [InlineData("DENIED", 403, ImageErrorKind.Unauthorized)]
    [InlineData("DIGEST_INVALID", 400, ImageErrorKind.DigestMismatch)]
    [InlineData("NAME_INVALID", 400, ImageErrorKind.InvalidInput)]
    [InlineData("UNSUPPORTED", 415, ImageErrorKind.Unsupported)]
    [InlineData("TOOMANYREQUESTS", 429, ImageErrorKind.Unavailable)]
    [InlineData(null, 503, ImageErrorKind.Unavailable)]
    [InlineData(null, 404, ImageErrorKind.NotFound)]
    [InlineData(null, 400, ImageErrorKind.InvalidInput)]
    public void Maps_registry_error_codes_and_statuses(string? code, int status, ImageErrorKind kind) =>
        RegistryClient.KindOf(code, (HttpStatusCode)status).Should().Be(kind);
}
