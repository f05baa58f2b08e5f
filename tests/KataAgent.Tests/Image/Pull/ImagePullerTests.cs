using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;
using Xunit;

namespace KataAgent.Tests.Image.Pull;

/// <summary>
/// Pulls from the shared plain-HTTP registry into fresh stores: busybox by tag and by digest in both formats, a
/// platform from an index, per-layer progress, a second pull finding everything stored, a platform the image is
/// not built for, and concurrent pulls of one image into one store through two instances and into two stores.
/// </summary>
public sealed class ImagePullerTests(ImageRegistryFixture fixture) : IClassFixture<ImageRegistryFixture>, IDisposable
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Pulls_busybox_by_tag_with_progress_per_layer_and_then_finds_it_stored()
    {
        var store = new ContentStore(_root.File("store"));
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        var puller = new ImagePuller(client, store);
        var reports = new List<PullProgress>();

        var image = await puller.PullAsync(ImageReference.Parse(fixture.Busybox), Amd64, new Recorder(reports), CancellationToken.None);

        image.Name.Should().Be(fixture.Busybox);
        image.ManifestDigest.ToString().Should().Be(fixture.BusyboxDigest);
        image.Config.Os.Should().Be("linux");
        image.Config.Config!.Cmd.Should().Equal("sh");
        var layer = image.Manifest.Layers.Should().ContainSingle().Subject;
        store.Contains(Digest.Parse(layer.Digest)).Should().BeTrue();
        Digest.Sha256Of(File.ReadAllBytes(store.BlobPath(Digest.Parse(layer.Digest)))).ToString().Should().Be(layer.Digest);
        reports.Select(r => r.Phase).Should().StartWith(PullPhase.Waiting).And.Contain(PullPhase.Downloading).And.EndWith(PullPhase.Done);
        reports.Where(r => r.Phase == PullPhase.Downloading).Select(r => r.Bytes).Should().BeInAscendingOrder();
        reports[^1].Bytes.Should().Be(layer.Size);
        reports.Should().OnlyContain(r => r.Total == layer.Size && r.Index == 0 && r.Layer.ToString() == layer.Digest);
        store.FindImage(fixture.Busybox)!.ManifestDigest.Should().Be(image.ManifestDigest);

        reports.Clear();
        var again = await puller.PullAsync(ImageReference.Parse(fixture.Busybox), Amd64, new Recorder(reports), CancellationToken.None);
        again.ManifestDigest.Should().Be(image.ManifestDigest);
        reports.Should().ContainSingle().Which.Phase.Should().Be(PullPhase.AlreadyStored);
    }

    [Fact]
    public async Task Pulls_by_digest_and_the_docker_format_sharing_the_layer()
    {
        var store = new ContentStore(_root.File("store"));
        using var client = new RegistryClient(fixture.Registry.ClientOptions());
        var puller = new ImagePuller(client, store);
        var byDigest = fixture.Registry.Reference("test/busybox@" + fixture.BusyboxDigest);

        var oci = await puller.PullAsync(ImageReference.Parse(byDigest), Amd64, null, CancellationToken.None);
        var docker = await puller.PullAsync(ImageReference.Parse(fixture.BusyboxV2s2), Amd64, null, CancellationToken.None);

        oci.Name.Should().Be(byDigest);
        docker.Manifest.MediaType.Should().Be(MediaTypes.DockerManifest);
        docker.Manifest.Layers[0].Digest.Should().Be(oci.Manifest.Layers[0].Digest, "skopeo converts the types, not the gzip bytes");
        store.ListImages().Select(i => i.Name).Should().BeEquivalentTo([byDigest, fixture.BusyboxV2s2]);
    }

    [Fact]
    public async Task Pulls_the_arm64_image_of_an_index_and_keeps_the_index_through_prune()
    {
        var store = new ContentStore(_root.File("store"));
        using var client = new RegistryClient(fixture.Registry.ClientOptions());

        var image = await new ImagePuller(client, store).PullAsync(ImageReference.Parse(fixture.Multi), Platform.Parse("linux/arm64/v8"), null, CancellationToken.None);

        image.ManifestDigest.ToString().Should().Be(fixture.Arm64.Digest);
        image.Config.Architecture.Should().Be("arm64");
        store.Contains(Digest.Parse(fixture.IndexDigest)).Should().BeTrue();
        store.Contains(Digest.Parse(fixture.Amd64.Digest)).Should().BeFalse("only the chosen platform is fetched");
        await store.PruneAsync(CancellationToken.None);
        store.Contains(Digest.Parse(fixture.IndexDigest)).Should().BeTrue("the record keeps its index");
        store.FindImage(fixture.Multi).Should().NotBeNull();
    }

    [Fact]
    public async Task An_image_built_for_another_platform_is_refused_before_its_layers()
    {
        var store = new ContentStore(_root.File("store"));
        using var client = new RegistryClient(fixture.Registry.ClientOptions());

        var act = () => new ImagePuller(client, store).PullAsync(ImageReference.Parse(fixture.Busybox), Platform.Parse("linux/arm64"), null, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.Unsupported);
        error.Message.Should().Contain(fixture.Busybox).And.Contain("linux/amd64").And.Contain("linux/arm64");
        store.ListImages().Should().BeEmpty();
        Directory.EnumerateFiles(Path.Combine(store.Root, "blobs", "sha256")).Should().HaveCount(1, "only the manifest was stored");
    }

    [Fact]
    public async Task Concurrent_pulls_into_one_store_through_two_instances_and_into_another_store_all_succeed()
    {
        var shared = _root.File("shared");
        using var clientA = new RegistryClient(fixture.Registry.ClientOptions());
        using var clientB = new RegistryClient(fixture.Registry.ClientOptions());
        using var clientC = new RegistryClient(fixture.Registry.ClientOptions());
        var reference = ImageReference.Parse(fixture.Busybox);

        var pulls = await Task.WhenAll(
            new ImagePuller(clientA, new ContentStore(shared)).PullAsync(reference, Amd64, null, CancellationToken.None),
            new ImagePuller(clientB, new ContentStore(shared)).PullAsync(reference, Amd64, null, CancellationToken.None),
            new ImagePuller(clientC, new ContentStore(_root.File("other"))).PullAsync(reference, Amd64, null, CancellationToken.None));

        pulls.Select(p => p.ManifestDigest).Distinct().Should().ContainSingle();
        var store = new ContentStore(shared);
        store.ListImages().Should().ContainSingle();
        Directory.EnumerateFiles(Path.Combine(shared, "blobs", "sha256")).Should().HaveCount(3, "manifest, config and layer, each once");
        Directory.EnumerateFiles(Path.Combine(shared, "ingest"), "*.partial").Should().BeEmpty();
        new ContentStore(_root.File("other")).FindImage(fixture.Busybox).Should().NotBeNull();
    }

    /// <summary>Records reports inline, in order.</summary>
    internal sealed class Recorder(List<PullProgress> reports) : IProgress<PullProgress>
    {
        public void Report(PullProgress value)
        {
            lock (reports)
                reports.Add(value);
        }
    }
}
