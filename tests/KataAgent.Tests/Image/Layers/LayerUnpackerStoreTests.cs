using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Layers;
using KataAgent.Image.Layout;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Store;
using KataAgent.Testing.Images;
using Xunit;

namespace KataAgent.Tests.Image.Layers;

/// <summary>
/// The public unpack from a <see cref="ContentStore"/>: the umoci images imported with
/// <see cref="OciLayoutImporter"/>, unpacked from the store, equal umoci's own unpack; a layer blob missing from the
/// store is <see cref="ImageErrorKind.NotFound"/> with the rootfs removed.
/// </summary>
public sealed class LayerUnpackerStoreTests(TestImageLayout images) : IClassFixture<TestImageLayout>
{
    [Theory]
    [InlineData(TestImageBuilder.MultiLayer)]
    [InlineData(TestImageBuilder.MultiLayerZstd)]
    public async Task An_imported_image_unpacks_from_the_store_as_umoci_unpacks_it(string tag)
    {
        var store = new ContentStore(images.NewDirectory("store"));
        var imported = await OciLayoutImporter.ImportAsync($"oci:{images.Layout}:{tag}", store, $"example.com/test/{tag}:v1",
            new Platform { Architecture = "amd64" }, CancellationToken.None);
        var image = imported.Should().ContainSingle().Subject;
        string rootfs = Path.Combine(images.NewDirectory("ours"), "rootfs");
        var reports = new List<PullProgress>();

        var result = await LayerUnpacker.UnpackAsync(store, image, rootfs, new SynchronousProgress<PullProgress>(reports.Add), CancellationToken.None);

        result.Warnings.Should().BeEmpty();
        string bundle = Path.Combine(images.NewDirectory("umoci"), "bundle");
        await HostTools.RunAsync(HostTools.Require("umoci", "umoci"), ["unpack", "--image", $"{images.Layout}:{TestImageBuilder.MultiLayer}", bundle]);
        FileTreeSnapshot.Take(rootfs).Diff(FileTreeSnapshot.Take(Path.Combine(bundle, "rootfs"))).Should().BeEmpty();
        reports.Where(r => r.Phase == PullPhase.Unpacked).Select(r => r.Layer.ToString())
            .Should().Equal(image.Manifest.Layers.Select(l => l.Digest));
    }

    [Fact]
    public async Task A_layer_missing_from_the_store_is_not_found_and_nothing_is_left()
    {
        var store = new ContentStore(images.NewDirectory("store"));
        var image = (await OciLayoutImporter.ImportAsync($"oci:{images.Layout}:{TestImageBuilder.MultiLayer}", store, "example.com/test/missing:v1",
            new Platform { Architecture = "amd64" }, CancellationToken.None)).Single();
        var last = Digest.Parse(image.Manifest.Layers[^1].Digest);
        File.Delete(Path.Combine(store.Root, "blobs", last.Algorithm, last.Hex));
        string rootfs = Path.Combine(images.NewDirectory("ours"), "rootfs");

        var unpack = () => LayerUnpacker.UnpackAsync(store, image, rootfs, null, CancellationToken.None);

        var error = (await unpack.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.NotFound);
        error.Message.Should().Contain(last.ToString());
        Directory.Exists(rootfs).Should().BeFalse();
    }
}
