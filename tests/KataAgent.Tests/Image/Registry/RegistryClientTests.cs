using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Registry;

/// <summary>
/// The registry client against Debian's docker-registry (plain HTTP, in its own netns): manifests by tag and by
/// digest in both formats, index platform selection with the attestation entry skipped, errors naming the image.
/// </summary>
public sealed class RegistryClientTests(ImageRegistryFixture fixture) : IClassFixture<ImageRegistryFixture>
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };

    [Fact]
    public async Task Resolves_busybox_by_tag_to_the_oci_manifest_skopeo_pushed()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());

        var resolved = await client.ResolveAsync(ImageReference.Parse(fixture.Busybox), Amd64, CancellationToken.None);

        resolved.ManifestDescriptor.MediaType.Should().Be(MediaTypes.OciManifest);
        resolved.ManifestDescriptor.Digest.Should().Be(fixture.BusyboxDigest);
        Digest.Sha256Of(resolved.ManifestBytes.Span).ToString().Should().Be(fixture.BusyboxDigest, "the bytes are kept as sent");
        resolved.Manifest.Layers.Should().ContainSingle().Which.MediaType.Should().Be(MediaTypes.OciLayerGzip);
        resolved.IndexDescriptor.Should().BeNull();
    }

    [Fact]
    public async Task Resolves_busybox_by_digest_and_checks_the_bytes_against_it()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        var reference = ImageReference.Parse(fixture.Registry.Reference("test/busybox@" + fixture.BusyboxDigest));

        var resolved = await client.ResolveAsync(reference, Amd64, CancellationToken.None);

        resolved.ManifestDigest.ToString().Should().Be(fixture.BusyboxDigest);
        resolved.Reference.Tag.Should().BeNull();
    }

    [Fact]
    public async Task Resolves_the_docker_schema2_form()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());

        var resolved = await client.ResolveAsync(ImageReference.Parse(fixture.BusyboxV2s2), Amd64, CancellationToken.None);

        resolved.ManifestDescriptor.MediaType.Should().Be(MediaTypes.DockerManifest);
        resolved.Manifest.Config.MediaType.Should().Be(MediaTypes.DockerConfig);
        resolved.Manifest.Layers.Should().ContainSingle().Which.MediaType.Should().Be(MediaTypes.DockerLayerGzip);
        resolved.ManifestDescriptor.Digest.Should().NotBe(fixture.BusyboxDigest);
    }

    [Theory]
    [InlineData("amd64", null)]
    [InlineData("arm64", null)]
    [InlineData("arm64", "v8")]
    public async Task Chooses_the_platform_from_an_index_past_the_attestation(string architecture, string? variant)
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        var platform = new Platform { Architecture = architecture, Variant = variant };

        var resolved = await client.ResolveAsync(ImageReference.Parse(fixture.Multi), platform, CancellationToken.None);

        var expected = architecture == "amd64" ? fixture.Amd64 : fixture.Arm64;
        resolved.ManifestDescriptor.Digest.Should().Be(expected.Digest);
        resolved.IndexDescriptor!.Digest.Should().Be(fixture.IndexDigest);
        resolved.IndexDescriptor.MediaType.Should().Be(MediaTypes.OciIndex);
        Digest.Sha256Of(resolved.IndexBytes!.Value.Span).ToString().Should().Be(fixture.IndexDigest);
    }

    [Fact]
    public async Task Never_chooses_an_attestation_entry_even_when_asked_for_its_platform()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());

        var act = () => client.ResolveAsync(ImageReference.Parse(fixture.Multi), new Platform { Os = "unknown", Architecture = "unknown" }, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.NotFound);
        error.Message.Should().Contain(fixture.Multi).And.Contain("its index offers: linux/arm64/v8, linux/amd64)", "the attestation is no offer");
    }

    [Fact]
    public async Task A_platform_the_index_lacks_is_not_found_naming_the_image()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());

        var act = () => client.ResolveAsync(ImageReference.Parse(fixture.Multi), new Platform { Architecture = "s390x" }, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.NotFound);
        error.Message.Should().Contain(fixture.Multi).And.Contain("linux/s390x");
    }

    [Fact]
    public async Task An_unknown_tag_is_the_registrys_manifest_unknown_naming_the_image()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        var reference = fixture.Registry.Reference("test/busybox:nosuchtag");

        var act = () => client.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.NotFound);
        error.Message.Should().Contain(reference).And.Contain("MANIFEST_UNKNOWN").And.Contain(fixture.Registry.Host);
    }

    [Fact]
    public async Task Fetches_a_blob_from_an_offset_with_a_range_request()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        var reference = ImageReference.Parse(fixture.Busybox);
        var layer = (await client.ResolveAsync(reference, Amd64, CancellationToken.None)).Manifest.Layers[0];
        var whole = new MemoryStream();
        await client.FetchBlobAsync(reference, layer, whole, 0, null, CancellationToken.None);
        var tail = new MemoryStream();
        var reports = new List<long>();

        await client.FetchBlobAsync(reference, layer, tail, 1000, new Callback(reports.Add), CancellationToken.None);

        whole.Length.Should().Be(layer.Size);
        Digest.Sha256Of(whole.ToArray()).ToString().Should().Be(layer.Digest);
        tail.ToArray().Should().Equal(whole.ToArray()[1000..]);
        reports.Should().NotBeEmpty().And.BeInAscendingOrder();
        reports[0].Should().BeGreaterThan(1000, "reports count the offset");
        reports[^1].Should().Be(layer.Size);
    }

    [Fact]
    public async Task The_api_probe_answers_and_an_unreachable_registry_is_unavailable_after_the_attempts()
    {
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        await client.ProbeAsync(fixture.Registry.Host, CancellationToken.None);

        // The host end of the veth: nothing listens there.
        var nowhere = fixture.Registry.HostAddress + ":5000";
        using var lost = new RegistryClient(new RegistryClientOptions
        {
            PlainHttpRegistries = new HashSet<string> { nowhere },
            Attempts = 2,
            FirstBackoff = TimeSpan.FromMilliseconds(10),
        });
        var act = () => lost.ResolveAsync(ImageReference.Parse(nowhere + "/test/busybox:v1"), Amd64, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.Unavailable);
        error.Message.Should().Contain(nowhere + "/test/busybox:v1").And.Contain("2 attempt");
    }

    private sealed class Callback(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
