using System.Formats.Tar;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Layout;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Store;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Layout;

/// <summary>
/// Import from OCI layouts without a registry: umoci's busybox layout (tag-only names, given a name), skopeo's
/// oci-archive (a full reference as ref.name), a nested index with the platform chosen, a corrupted blob refused
/// with nothing tagged, and an archive whose entries try to escape or link (contained, refused).
/// </summary>
public sealed class OciLayoutImporterTests : IDisposable
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private ContentStore NewStore() => new(_root.File("store"));

    [Fact]
    public async Task Imports_one_tag_of_umocis_busybox_layout_under_the_given_name()
    {
        var archives = await BusyboxOciImage.BuildAsync();
        var store = NewStore();

        var images = await OciLayoutImporter.ImportAsync($"oci:{archives.Layout}:v1", store, "example.com/imported/busybox:v1", Amd64, CancellationToken.None);

        var image = images.Should().ContainSingle().Subject;
        image.Name.Should().Be("example.com/imported/busybox:v1");
        image.ManifestDigest.ToString().Should().Be(ImageRegistryFixture.LayoutDigest(archives.Layout, "v1"));
        foreach (var layer in image.Manifest.Layers)
            store.Contains(Digest.Parse(layer.Digest)).Should().BeTrue();
        store.FindImage("example.com/imported/busybox:v1").Should().NotBeNull();
    }

    [Fact]
    public async Task Imports_every_tag_of_a_layout_under_a_repository_and_refuses_tag_only_names_without_one()
    {
        var archives = await BusyboxOciImage.BuildAsync();
        var store = NewStore();

        var act = () => OciLayoutImporter.ImportAsync(archives.Layout, store, null, Amd64, CancellationToken.None);
        (await act.Should().ThrowAsync<ImageException>()).Which.Message.Should().Contain("a tag only").And.Contain(archives.Layout);

        var images = await OciLayoutImporter.ImportAsync(archives.Layout, store, "example.com/bb", Amd64, CancellationToken.None);

        images.Select(i => i.Name).Should().Contain(["example.com/bb:v1", "example.com/bb:pause"]);
        store.FindImage("example.com/bb:pause")!.Config.Config!.Entrypoint.Should().Equal("/bin/sleep");
    }

    [Fact]
    public async Task Imports_skopeos_oci_archive_by_its_full_ref_name()
    {
        var archives = await BusyboxOciImage.BuildAsync();
        var archive = _root.File("busybox.tar");
        await HostTools.RunAsync(HostTools.Require("skopeo", "skopeo"),
            ["--insecure-policy", "copy", "--quiet", $"oci:{archives.Layout}:v1", $"oci-archive:{archive}:example.com/archived/busybox:v1"]);
        var store = NewStore();

        var images = await OciLayoutImporter.ImportAsync("oci-archive:" + archive, store, null, Amd64, CancellationToken.None);

        var image = images.Should().ContainSingle().Subject;
        image.Name.Should().Be("example.com/archived/busybox:v1");
        image.ManifestDigest.ToString().Should().Be(ImageRegistryFixture.LayoutDigest(archives.Layout, "v1"));
        Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "tmp")).Should().BeEmpty("the unpacked archive is removed");
    }

    [Fact]
    public async Task Follows_a_nested_index_to_the_platforms_manifest()
    {
        var layout = new OciLayoutWriter(_root.CreateDirectory("nested"));
        var amd64 = layout.WriteImage(Amd64, [OciLayoutWriter.Tar(("arch", "amd64"u8.ToArray()))]);
        var arm64 = layout.WriteImage(Platform.Parse("linux/arm64/v8"), [OciLayoutWriter.Tar(("arch", "arm64"u8.ToArray()))]);
        var inner = layout.WriteIndexBlob([arm64, amd64]);
        var outer = layout.WriteIndexBlob([inner]);
        layout.WriteIndexJson([OciLayoutWriter.Named(outer, "example.com/multi:v1")]);
        var store = NewStore();

        var images = await OciLayoutImporter.ImportAsync(layout.Directory, store, null, Platform.Parse("linux/arm64"), CancellationToken.None);

        var image = images.Should().ContainSingle().Subject;
        image.Name.Should().Be("example.com/multi:v1");
        image.ManifestDigest.ToString().Should().Be(arm64.Digest);
        image.Config.Architecture.Should().Be("arm64");
        store.Contains(Digest.Parse(outer.Digest)).Should().BeTrue("the record keeps the index it named");
        store.Contains(Digest.Parse(amd64.Digest)).Should().BeFalse();

        var none = () => OciLayoutImporter.ImportAsync(layout.Directory, NewStore(), null, Platform.Parse("linux/s390x"), CancellationToken.None);
        (await none.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.NotFound);
    }

    [Fact]
    public async Task A_blob_that_does_not_match_its_digest_is_refused_and_nothing_is_tagged()
    {
        var layout = new OciLayoutWriter(_root.CreateDirectory("corrupt"));
        var manifest = layout.WriteImage(Amd64, [OciLayoutWriter.RandomTar("data", 100_000)], gzip: false);
        layout.WriteIndexJson([OciLayoutWriter.Named(manifest with { Platform = null }, "example.com/corrupt:v1")]);
        var store = NewStore();
        var layer = store.ReadManifestForTest(layout, manifest).Layers[0];
        var path = layout.BlobPath(layer.Digest);
        var bytes = File.ReadAllBytes(path);
        bytes[^600] ^= 1;
        File.WriteAllBytes(path, bytes);

        var act = () => OciLayoutImporter.ImportAsync(layout.Directory, store, null, Amd64, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        error.Message.Should().Contain(layout.Directory).And.Contain(layer.Digest);
        store.Contains(Digest.Parse(layer.Digest)).Should().BeFalse();
        store.ListImages().Should().BeEmpty();
    }

    [Fact]
    public async Task An_archive_entry_outside_the_layout_is_ignored_and_a_link_for_a_blob_is_refused()
    {
        var layout = new OciLayoutWriter(_root.CreateDirectory("evil-src"));
        var manifest = layout.WriteImage(Amd64, [OciLayoutWriter.Tar(("f", "x"u8.ToArray()))]);
        layout.WriteIndexJson([OciLayoutWriter.Named(manifest with { Platform = null }, "example.com/evil:v1")]);
        var store = NewStore();
        var escapeName = "escaped-" + Guid.NewGuid().ToString("N")[..8];

        // Every layout file, plus an entry that climbs out of the directory it is unpacked into.
        var archive = _root.File("evil.tar");
        await using (var file = File.Create(archive))
        await using (var tar = new TarWriter(file, TarEntryFormat.Pax))
        {
            await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "../../../" + escapeName) { DataStream = new MemoryStream("out"u8.ToArray()) });
            foreach (var path in Directory.EnumerateFiles(layout.Directory, "*", SearchOption.AllDirectories))
                await tar.WriteEntryAsync(path, Path.GetRelativePath(layout.Directory, path));
        }

        var images = await OciLayoutImporter.ImportAsync(archive, store, null, Amd64, CancellationToken.None);

        images.Should().ContainSingle().Which.Name.Should().Be("example.com/evil:v1");
        File.Exists(Path.Combine(store.Root, escapeName)).Should().BeFalse();
        File.Exists(Path.Combine(Path.GetDirectoryName(store.Root)!, escapeName)).Should().BeFalse();
        File.Exists(Path.Combine(_root.Path, escapeName)).Should().BeFalse();

        var linked = _root.File("linked.tar");
        await using (var file = File.Create(linked))
        await using (var tar = new TarWriter(file, TarEntryFormat.Pax))
        {
            await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.SymbolicLink, "blobs/sha256/" + manifest.Digest["sha256:".Length..]) { LinkName = "/etc/shadow" });
        }
        var act = () => OciLayoutImporter.ImportAsync(linked, NewStore(), null, Amd64, CancellationToken.None);
        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain("SymbolicLink").And.Contain(linked);
    }
}

/// <summary>Reads a manifest a test wrote into a layout.</summary>
internal static class LayoutTestExtensions
{
    public static ImageManifest ReadManifestForTest(this ContentStore _, OciLayoutWriter layout, Descriptor manifest) =>
        System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(layout.BlobPath(manifest.Digest)), ImageJsonContext.Default.ImageManifest)!;
}
