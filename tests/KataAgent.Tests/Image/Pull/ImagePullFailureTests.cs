using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Pull;

/// <summary>
/// Pulls that go wrong, each against a registry of its own (they corrupt its storage or kill it): a layer whose
/// bytes do not match its digest (refused, nothing stored), the registry killed mid-layer (a clear Unavailable, the
/// partial kept; restarted, the next pull resumes from the partial's end), and a cancelled pull (no blob visible).
/// The large image is one layer of 48 MiB of random bytes (gzip cannot shrink it), more than the socket buffers between
/// the two hold.
/// </summary>
public sealed class ImagePullFailureTests : IAsyncLifetime
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };
    private const int LargeLayerBytes = 48 << 20;
    private readonly TempDirectory _root = new();
    private TestRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await TestRegistry.StartAsync();

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        _root.Dispose();
    }

    [Fact]
    public async Task A_layer_whose_bytes_do_not_match_its_digest_is_refused_and_nothing_is_stored()
    {
        var archives = await BusyboxOciImage.BuildAsync();
        var reference = await _registry.PushAsync($"oci:{archives.Layout}:v1", "test/corrupt:v1");
        var layer = ReadLayer(archives.Layout, "v1");
        var data = _registry.BlobDataPath(layer.Digest);
        var bytes = File.ReadAllBytes(data);
        bytes[bytes.Length / 2] ^= 0x55;
        File.WriteAllBytes(data, bytes);
        var store = new ContentStore(_root.File("store"));
        using var client = new RegistryClient(_registry.ClientOptions());

        var act = () => new ImagePuller(client, store).PullAsync(ImageReference.Parse(reference), Amd64, null, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        error.Message.Should().Contain(layer.Digest);
        store.Contains(Digest.Parse(layer.Digest)).Should().BeFalse();
        store.ListImages().Should().BeEmpty();
        Directory.EnumerateFiles(Path.Combine(store.Root, "ingest"), "*.partial").Should().BeEmpty();
    }

    [Fact]
    public async Task The_registry_killed_mid_layer_is_unavailable_and_the_next_pull_resumes_the_partial()
    {
        var (reference, layer) = await PushLargeImageAsync("test/large:v1");
        var store = new ContentStore(_root.File("store"));
        var digest = Digest.Parse(layer.Digest);
        using var client = new RegistryClient(_registry.ClientOptions());
        bool killed = false;
        var killer = new Callback(p =>
        {
            if (!killed && p.Phase == PullPhase.Downloading && p.Bytes > 0 && p.Layer == digest)
            {
                killed = true;
                _registry.StopAsync().GetAwaiter().GetResult();
            }
        });

        var act = () => new ImagePuller(client, store).PullAsync(ImageReference.Parse(reference), Amd64, killer, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.Unavailable);
        error.Message.Should().Contain(_registry.Host).And.Contain("unreachable").And.Contain(layer.Digest);
        store.Contains(digest).Should().BeFalse("no half blob is visible");
        long kept = store.PartialLength(digest);
        kept.Should().BeGreaterThan(0).And.BeLessThan(LargeLayerBytes);

        await _registry.RestartAsync();
        var reports = new List<PullProgress>();
        var image = await new ImagePuller(client, store).PullAsync(ImageReference.Parse(reference), Amd64, new ImagePullerTests.Recorder(reports), CancellationToken.None);

        reports.First(r => r.Phase == PullPhase.Downloading).Bytes.Should().Be(kept, "the download starts where the partial ends");
        store.Contains(digest).Should().BeTrue();
        Digest.Sha256Of(File.ReadAllBytes(store.BlobPath(digest))).Should().Be(digest);
        image.Name.Should().Be(reference);
    }

    [Fact]
    public async Task A_cancelled_pull_leaves_no_blob_visible_and_the_next_one_completes()
    {
        var (reference, layer) = await PushLargeImageAsync("test/cancel:v1");
        var store = new ContentStore(_root.File("store"));
        var digest = Digest.Parse(layer.Digest);
        using var client = new RegistryClient(_registry.ClientOptions());
        using var cancel = new CancellationTokenSource();
        var canceller = new Callback(p =>
        {
            if (p.Phase == PullPhase.Downloading && p.Bytes > 0)
                cancel.Cancel();
        });

        var act = () => new ImagePuller(client, store).PullAsync(ImageReference.Parse(reference), Amd64, canceller, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        store.Contains(digest).Should().BeFalse();
        store.ListImages().Should().BeEmpty();
        var image = await new ImagePuller(client, store).PullAsync(ImageReference.Parse(reference), Amd64, null, CancellationToken.None);
        store.Contains(digest).Should().BeTrue();
        image.Manifest.Layers.Should().ContainSingle().Which.Size.Should().Be(layer.Size);
    }

    private async Task<(string Reference, Descriptor Layer)> PushLargeImageAsync(string repositoryAndTag)
    {
        var layout = new OciLayoutWriter(_root.CreateDirectory("large-" + Guid.NewGuid().ToString("N")[..6]));
        var manifest = layout.WriteImage(Amd64, [OciLayoutWriter.RandomTar("data/random.bin", LargeLayerBytes)], gzip: false);
        layout.WriteIndexJson([OciLayoutWriter.Named(manifest with { Platform = null }, "v1")]);
        var reference = await _registry.PushAsync($"oci:{layout.Directory}:v1", repositoryAndTag);
        // skopeo compresses an uncompressed layer on its way to a registry: the registry's descriptor is the one pulled.
        using var client = new RegistryClient(_registry.ClientOptions());
        var resolved = await client.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
        return (reference, resolved.Manifest.Layers.Single());
    }

    private static Descriptor ReadLayer(string layout, string tag)
    {
        var digest = ImageRegistryFixture.LayoutDigest(layout, tag);
        var manifest = System.Text.Json.JsonSerializer.Deserialize(
            File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..])), ImageJsonContext.Default.ImageManifest)!;
        return manifest.Layers.Single();
    }

    private sealed class Callback(Action<PullProgress> report) : IProgress<PullProgress>
    {
        public void Report(PullProgress value) => report(value);
    }
}
