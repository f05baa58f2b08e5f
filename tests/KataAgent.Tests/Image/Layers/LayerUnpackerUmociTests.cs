using FluentAssertions;
using KataAgent.Image.Layers;
using KataAgent.Image.Pull;
using KataAgent.Testing.Images;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Tests.Image.Layers;

/// <summary>
/// Our unpack of umoci-built images against <c>umoci unpack</c> of the same images (root: owners, devices,
/// security.capability): every path's type, mode, owner, size, content hash, link target, device number, xattrs,
/// hardlink set and mtime.
/// </summary>
public sealed class LayerUnpackerUmociTests(TestImageLayout images, ITestOutputHelper output) : IClassFixture<TestImageLayout>
{
    [Theory]
    [InlineData(TestImageBuilder.Busybox)]
    [InlineData(TestImageBuilder.MultiLayer)]
    [InlineData(TestImageBuilder.MultiLayerZstd)]
    [InlineData(TestImageBuilder.MultiLayerTar)]
    public async Task Unpack_equals_umoci_unpack(string tag)
    {
        var image = images.Image(tag);
        string ours = Path.Combine(images.NewDirectory("ours"), "rootfs");
        var reports = new List<PullProgress>();
        var result = await LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, tag, ours,
            new SynchronousProgress<PullProgress>(reports.Add), CancellationToken.None);

        // umoci 0.4.7 has no zstd: the zstd variant is compared with umoci's unpack of the gzip image it was made
        // from (the same tars: the diff_ids are the same).
        string reference = tag == TestImageBuilder.MultiLayerZstd ? TestImageBuilder.MultiLayer : tag;
        string bundle = Path.Combine(images.NewDirectory("umoci"), "bundle");
        await HostTools.RunAsync(HostTools.Require("umoci", "umoci"), ["unpack", "--image", $"{images.Layout}:{reference}", bundle]);
        var expected = FileTreeSnapshot.Take(Path.Combine(bundle, "rootfs"));
        var actual = FileTreeSnapshot.Take(ours);

        var diffs = actual.Diff(expected);
        foreach (string diff in diffs)
            output.WriteLine(diff);
        if (diffs.Count > 0)
        {
            foreach (var layer in image.Manifest.Layers)
            {
                using var s = KataAgent.Image.Layers.LayerDecompression.Open(image.OpenBlob(layer), layer.MediaType);
                using var r = new System.Formats.Tar.TarReader(s);
                try
                {
                    while (r.GetNextEntry() is { } e)
                        output.WriteLine($"{layer.Digest[..15]} {e.Name} {e.ModificationTime.ToUnixTimeSeconds()}");
                }
                catch (EndOfStreamException)
                {
                }
            }
        }
        diffs.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        actual.Entries["bin/sh"].ContentSha256.Should().Be("-> busybox");
        actual.Entries.Count.Should().BeGreaterThan(250, "busybox's applet links are all there");

        for (int i = 0; i < image.Manifest.Layers.Count; i++)
        {
            var layer = image.Manifest.Layers[i];
            var mine = reports.Where(r => r.Index == i).ToList();
            mine.First().Phase.Should().Be(PullPhase.Unpacking);
            mine.Last().Should().Be(new PullProgress(KataAgent.Image.References.Digest.Parse(layer.Digest), i, PullPhase.Unpacked, layer.Size, layer.Size));
        }
    }

    [Fact]
    public async Task Multi_layer_image_has_the_layers_effects()
    {
        var image = images.Image(TestImageBuilder.MultiLayer);
        string root = Path.Combine(images.NewDirectory("effects"), "rootfs");
        await LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "multi", root, null, CancellationToken.None);
        var tree = FileTreeSnapshot.Take(root).Entries;

        tree.Should().NotContainKey("etc/motd", "layer 1 whited it out");
        tree.Keys.Should().NotContain(k => k.StartsWith("opt/gone", StringComparison.Ordinal));
        tree.Should().NotContainKey("bin/vi", "layer 3 whited it out");
        tree.Should().ContainKey("bin/sh");
        tree.Keys.Where(k => k.StartsWith("opt/keep/", StringComparison.Ordinal)).Should().Equal(["opt/keep/only-this.txt"]);
        tree["srv/file-to-dir"].Type.Should().Be("dir");
        tree["srv/dir-to-file"].Type.Should().Be("file");
        tree["home/user"].Should().Match<FileTreeEntry>(e => e.Mode == 0x1C0 && e.Uid == 1001 && e.Gid == 1001);
        tree.Should().ContainKey("home/user/.profile", "a directory over a directory keeps its children");
        tree["usr/bin/setuid"].Mode.Should().Be(0x9ED);
        tree["usr/bin/setgid"].Should().Match<FileTreeEntry>(e => e.Mode == 0x5ED && e.Uid == 1000 && e.Gid == 42);
        tree["usr/bin/ping"].Xattrs.Should().StartWith("security.capability=");
        tree["etc/xattr-file"].Xattrs.Should().Be("user.binary=80ff0061,user.text=68656c6c6f");
        tree["opt/xdir"].Xattrs.Should().Be("user.dir=64");
        tree["usr/share/data/a"].HardLinks.Should().Be("usr/share/data/a-hardlink");
        tree["var/lib/b"].HardLinks.Should().Be("var/lib/b-hardlink");
        tree["usr/share/data/abs"].ContentSha256.Should().Be("-> /etc/passwd");
        tree["usr/share/data/rel"].ContentSha256.Should().Be("-> a");
        tree["run/ipc/fifo"].Should().Match<FileTreeEntry>(e => e.Type == "fifo" && e.Mode == 0x190);
        tree["dev/null"].Should().Match<FileTreeEntry>(e => e.Type == "char" && e.ContentSha256 == "1:3");
        tree["dev/loop7"].Should().Match<FileTreeEntry>(e => e.Type == "block" && e.ContentSha256 == "7:7");
        tree["etc/hosts"].MtimeSeconds.Should().Be(new DateTimeOffset(2001, 2, 3, 4, 5, 6, TimeSpan.Zero).ToUnixTimeSeconds());
    }
}
