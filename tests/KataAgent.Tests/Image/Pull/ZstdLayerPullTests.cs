using FluentAssertions;
using KataAgent.Image.Layers;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Pull;

/// <summary>
/// A registry round trip of a tar+zstd layer: an image whose base layer is gzip and whose second layer is zstd is
/// pushed by skopeo (which keeps the zstd blob: checked in the manifest the registry serves), pulled into a store
/// and unpacked; the zstd layer's file overrides the gzip layer's, and its diff_id is verified on the way.
/// </summary>
public sealed class ZstdLayerPullTests : IAsyncLifetime
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };
    private readonly TempDirectory _root = new();
    private TestRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await TestRegistry.StartAsync();

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        _root.Dispose();
    }

    [Fact]
    public async Task A_zstd_layer_over_a_gzip_layer_is_pulled_from_the_registry_and_unpacked()
    {
        var layout = new OciLayoutWriter(_root.CreateDirectory("layout"));
        var image = layout.WriteImage(Amd64,
            [OciLayoutWriter.Tar(("etc/which", "gzip\n"u8.ToArray()), ("etc/base", "base\n"u8.ToArray())),
             OciLayoutWriter.Tar(("etc/which", "zstd\n"u8.ToArray()), ("opt/big", new byte[300_000]))],
            zstdLayers: new HashSet<int> { 1 });
        layout.WriteIndexJson([OciLayoutWriter.Named(image with { Platform = null }, "v1")]);
        string reference = await _registry.PushAsync($"oci:{layout.Directory}:v1", "test/zstd:v1");

        var store = new ContentStore(_root.File("store"));
        using var client = new RegistryClient(_registry.ClientOptions());
        var resolved = await client.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
        resolved.Manifest.Layers.Select(l => l.MediaType).Should().Equal(MediaTypes.OciLayerGzip, MediaTypes.OciLayerZstd);

        var stored = await new ImagePuller(client, store).PullAsync(ImageReference.Parse(reference), Amd64, null, CancellationToken.None);
        string rootfs = _root.File("rootfs");
        await LayerUnpacker.UnpackAsync(store, stored, rootfs, null, CancellationToken.None);

        File.ReadAllText(Path.Combine(rootfs, "etc/which")).Should().Be("zstd\n");
        File.ReadAllText(Path.Combine(rootfs, "etc/base")).Should().Be("base\n");
        new FileInfo(Path.Combine(rootfs, "opt/big")).Length.Should().Be(300_000);
    }
}
