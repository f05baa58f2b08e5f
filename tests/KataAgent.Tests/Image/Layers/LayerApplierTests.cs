using System.Formats.Tar;
using System.Text;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Containment;
using KataAgent.Image.Layers;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Testing.Images;
using Xunit;

namespace KataAgent.Tests.Image.Layers;

/// <summary>
/// Layer semantics on layers written with TarWriter (root: owners, devices): whiteouts and opaque directories
/// against lower and same-layer content, the root entry, directories over directories, hardlinks to lower layers,
/// setuid kept after chown, long names in GNU and PAX form with xattrs, devices, directory mtimes after children;
/// and what is refused: bad whiteouts, wrong diff_ids, a target in use, unknown media types, corrupt and truncated
/// streams, cancellation (the rootfs removed each time).
/// </summary>
public sealed class LayerApplierTests : IDisposable
{
    private static readonly DateTimeOffset Old = new(2001, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string Rootfs => _scratch.File("rootfs");

    private async Task<Dictionary<string, FileTreeEntry>> UnpackAsync(params byte[][] layers)
    {
        var image = new InMemoryImage(layers);
        var result = await LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "test", Rootfs, null, CancellationToken.None);
        result.Warnings.Should().BeEmpty();
        return new Dictionary<string, FileTreeEntry>(FileTreeSnapshot.Take(Rootfs).Entries);
    }

    private async Task<ImageException> RefusedAsync(InMemoryImage image)
    {
        var unpack = () => LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "test", Rootfs, null, CancellationToken.None);
        var error = (await unpack.Should().ThrowAsync<ImageException>()).Which;
        Directory.Exists(Rootfs).Should().BeFalse("nothing is left half-unpacked");
        return error;
    }

    [Fact]
    public async Task Opaque_hides_lower_children_but_keeps_this_layers_earlier_entries()
    {
        var tree = await UnpackAsync(
            new LayerTar().Directory("d").File("d/old", "1").Directory("d/sub").File("d/sub/old2", "2").File("d/sub/keep-not", "3").ToArray(),
            new LayerTar().File("d/new", "4").Directory("d/sub").File("d/sub/new2", "5").Opaque("d").Directory("d").ToArray());

        tree.Keys.Where(k => k.StartsWith("d/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Should().Equal("d/new", "d/sub", "d/sub/new2");
    }

    [Fact]
    public async Task Whiteouts_delete_lower_files_and_trees_but_not_this_layers_entries()
    {
        var tree = await UnpackAsync(
            new LayerTar().File("a", "1").Directory("t").Directory("t/u").File("t/u/v", "2").File("b", "3").ToArray(),
            new LayerTar().Whiteout("a").Whiteout("t").File("c", "4").Whiteout("c").Whiteout("nothing-there").ToArray());

        tree.Keys.Order(StringComparer.Ordinal).Should().Equal(".", "b", "c");
    }

    [Theory]
    [InlineData(".wh.")]
    [InlineData("dir/.wh.")]
    public async Task A_whiteout_naming_nothing_is_invalid(string name)
    {
        var error = await RefusedAsync(new InMemoryImage(
            new LayerTar().Directory("dir").Add(new PaxTarEntry(TarEntryType.RegularFile, name)).ToArray()));
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain($"entry '{name}'").And.Contain("'.wh.' alone");
    }

    [Fact]
    public async Task The_root_entry_sets_the_roots_metadata_and_directories_keep_their_mtime_after_children()
    {
        var root = new PaxTarEntry(TarEntryType.Directory, "./") { Mode = (UnixFileMode)0x1C0, Uid = 5, Gid = 6 };
        var tree = await UnpackAsync(new LayerTar().Add(root).Directory("d").File("d/f", "x").ToArray());

        tree["."].Should().Match<FileTreeEntry>(e => e.Mode == 0x1C0 && e.Uid == 5 && e.Gid == 6);
        long expected = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds();
        tree["."].MtimeSeconds.Should().Be(expected);
        tree["d"].MtimeSeconds.Should().Be(expected, "the directory's time is set after its child was written");
    }

    [Fact]
    public async Task A_directory_over_a_directory_keeps_children_and_takes_the_new_attributes()
    {
        var lower = new PaxTarEntry(TarEntryType.Directory, "d", new Dictionary<string, string> { ["SCHILY.xattr.user.old"] = "o" })
        { Mode = (UnixFileMode)0x1ED };
        var upper = new PaxTarEntry(TarEntryType.Directory, "d", new Dictionary<string, string> { ["SCHILY.xattr.user.new"] = "n" })
        { Mode = (UnixFileMode)0x1C0, Uid = 7, Gid = 8 };
        var tree = await UnpackAsync(
            new LayerTar().Add(lower).File("d/child", "c").ToArray(),
            new LayerTar().Add(upper).ToArray());

        tree["d"].Should().Match<FileTreeEntry>(e => e.Mode == 0x1C0 && e.Uid == 7 && e.Gid == 8);
        tree["d"].Xattrs.Should().Be("user.new=6e");
        tree.Should().ContainKey("d/child");
    }

    [Fact]
    public async Task Type_changes_replace_the_lower_path()
    {
        var tree = await UnpackAsync(
            new LayerTar().File("f2d", "file").Directory("d2f").File("d2f/x", "x").Symlink("l2f", "target").ToArray(),
            new LayerTar().Directory("f2d").File("d2f", "now a file").File("l2f", "now a file").ToArray());

        tree["f2d"].Type.Should().Be("dir");
        tree["d2f"].Type.Should().Be("file");
        tree["l2f"].Type.Should().Be("file");
        tree.Should().NotContainKey("d2f/x");
    }

    [Fact]
    public async Task Hardlinks_reach_lower_layer_files_and_a_missing_target_is_refused()
    {
        var tree = await UnpackAsync(
            new LayerTar().File("lower", "shared").ToArray(),
            new LayerTar().HardLink("upper", "lower").ToArray());
        tree["lower"].HardLinks.Should().Be("upper");

        Directory.Delete(Rootfs, recursive: true);
        var error = await RefusedAsync(new InMemoryImage(new LayerTar().HardLink("h", "missing").ToArray()));
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain("entry 'h'").And.Contain("'missing' is not in the rootfs");
    }

    [Fact]
    public async Task Setuid_and_setgid_survive_the_chown_and_devices_and_fifos_are_made()
    {
        var device = new PaxTarEntry(TarEntryType.CharacterDevice, "dev/zero") { DeviceMajor = 1, DeviceMinor = 5, Mode = (UnixFileMode)0x1B6 };
        var block = new PaxTarEntry(TarEntryType.BlockDevice, "dev/sdz") { DeviceMajor = 8, DeviceMinor = 250, Mode = (UnixFileMode)0x1B0, Uid = 0, Gid = 6 };
        var tree = await UnpackAsync(new LayerTar()
            .File("su", "suid", mode: 0x9ED, uid: 1000, gid: 1000)
            .File("sg", "sgid", mode: 0x5ED, uid: 1000, gid: 50)
            .Directory("dev").Add(device).Add(block).Fifo("dev/pipe", 0x180).ToArray());

        tree["su"].Should().Match<FileTreeEntry>(e => e.Mode == 0x9ED && e.Uid == 1000 && e.Gid == 1000);
        tree["sg"].Should().Match<FileTreeEntry>(e => e.Mode == 0x5ED && e.Gid == 50);
        tree["dev/zero"].Should().Match<FileTreeEntry>(e => e.Type == "char" && e.ContentSha256 == "1:5" && e.Mode == 0x1B6);
        tree["dev/sdz"].Should().Match<FileTreeEntry>(e => e.Type == "block" && e.ContentSha256 == "8:250" && e.Gid == 6);
        tree["dev/pipe"].Should().Match<FileTreeEntry>(e => e.Type == "fifo" && e.Mode == 0x180);
    }

    [Fact]
    public async Task Long_names_in_gnu_and_pax_form_and_xattrs_after_them()
    {
        string deep = string.Join('/', Enumerable.Repeat("a-rather-long-directory-name", 6));
        using var stream = new MemoryStream();
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new GnuTarEntry(TarEntryType.Directory, deep) { Mode = (UnixFileMode)0x1ED });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.SymbolicLink, deep + "/gnu-link") { LinkName = new string('t', 150) });
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, deep + "/gnu-file") { DataStream = new MemoryStream("gnu"u8.ToArray()) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, deep + "/pax-file",
                new Dictionary<string, string> { ["SCHILY.xattr.user.k"] = "välue", ["SCHILY.xattr.security.capability"] = "\u0001\u0000\u0000\u0002 \u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000" })
            { DataStream = new MemoryStream("pax"u8.ToArray()), Mode = (UnixFileMode)0x1ED });
            writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "ustar-file") { DataStream = new MemoryStream(new byte[1000]) });
            writer.WriteEntry(new V7TarEntry(TarEntryType.V7RegularFile, "v7-file") { DataStream = new MemoryStream(new byte[513]) });
        }
        var tree = await UnpackAsync(stream.ToArray());

        tree[deep + "/gnu-link"].ContentSha256.Should().Be("-> " + new string('t', 150));
        tree[deep + "/gnu-file"].Size.Should().Be(3);
        tree[deep + "/pax-file"].Xattrs.Should().Be(
            "security.capability=0100000220000000000000000000000000000000,user.k=76c3a46c7565");
        tree["ustar-file"].Size.Should().Be(1000);
        tree["v7-file"].Size.Should().Be(513);
    }

    [Fact]
    public async Task An_xattr_the_filesystem_refuses_is_a_warning_naming_it()
    {
        var image = new InMemoryImage(new LayerTar().File("f", "x", pax: new Dictionary<string, string> { ["SCHILY.xattr.bogus.name"] = "v" }).ToArray());
        var result = await LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "test", Rootfs, null, CancellationToken.None);

        result.Warnings.Should().ContainSingle().Which.Should().Contain("'f'").And.Contain("bogus.name").And.Contain("EOPNOTSUPP");
        File.ReadAllText(Path.Combine(Rootfs, "f")).Should().Be("x");
    }

    [Fact]
    public async Task A_wrong_diff_id_is_refused_and_the_rootfs_removed()
    {
        var image = new InMemoryImage(new LayerTar().File("a", "1").ToArray(), new LayerTar().File("b", "2").ToArray());
        string wrong = InMemoryImage.Sha256("not the layer"u8.ToArray());
        image.Config = image.Config with { Rootfs = new ImageRootfs { DiffIds = [image.Config.Rootfs!.DiffIds[0], wrong] } };

        var error = await RefusedAsync(image);
        error.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        error.Message.Should().Contain("layer 1").And.Contain(wrong).And.Contain(image.Manifest.Layers[1].Digest);
    }

    [Fact]
    public async Task A_target_that_is_not_empty_is_refused_and_left_alone()
    {
        Directory.CreateDirectory(Rootfs);
        File.WriteAllText(Path.Combine(Rootfs, "mine"), "keep");
        var image = new InMemoryImage(new LayerTar().File("a", "1").ToArray());

        var unpack = () => LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "test", Rootfs, null, CancellationToken.None);

        (await unpack.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.InvalidInput);
        File.ReadAllText(Path.Combine(Rootfs, "mine")).Should().Be("keep");
    }

    [Fact]
    public async Task Media_types_and_streams_that_do_not_fit_are_refused()
    {
        byte[] tar = new LayerTar().File("a", "1").ToArray();
        var image = new InMemoryImage(tar);
        var layer = image.Manifest.Layers[0];

        image.Manifest = image.Manifest with { Layers = [layer with { MediaType = "application/vnd.example.squashfs" }] };
        var error = await RefusedAsync(image);
        error.Kind.Should().Be(ImageErrorKind.Unsupported);
        error.Message.Should().Contain("application/vnd.example.squashfs");

        image.Manifest = image.Manifest with { Layers = [layer with { MediaType = MediaTypes.OciLayerZstd }] };
        error = await RefusedAsync(image);
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain("magic");

        image.Manifest = image.Manifest with { Layers = [layer, layer] };
        error = await RefusedAsync(image);
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain("2 layers").And.Contain("diff_ids has 1");
    }

    [Fact]
    public async Task A_corrupt_gzip_and_a_tar_cut_inside_a_file_are_refused()
    {
        byte[] tar = new LayerTar().File("a", new string('x', 5000)).ToArray();
        byte[] gzip = InMemoryImage.Gzip(tar);
        gzip[gzip.Length / 2] ^= 0xFF;
        gzip[gzip.Length / 2 + 1] ^= 0xFF;
        var corrupt = new InMemoryImage(tar);
        var blobs = new Dictionary<string, byte[]> { [corrupt.Manifest.Layers[0].Digest] = gzip };
        var error = await RefusedVia(blobs, corrupt);
        error.Kind.Should().BeOneOf(ImageErrorKind.InvalidInput, ImageErrorKind.DigestMismatch);

        byte[] cut = tar[..3000];
        var truncated = new InMemoryImage(cut);
        error = await RefusedAsync(truncated);
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain("not a valid tar archive");
    }

    private async Task<ImageException> RefusedVia(Dictionary<string, byte[]> blobs, InMemoryImage image)
    {
        var unpack = () => LayerUnpacker.UnpackAsync(d => new MemoryStream(blobs[d.Digest]), image.Manifest, image.Config, "test", Rootfs, null, CancellationToken.None);
        var error = (await unpack.Should().ThrowAsync<ImageException>()).Which;
        Directory.Exists(Rootfs).Should().BeFalse();
        return error;
    }

    [Fact]
    public async Task Cancellation_stops_and_removes_the_rootfs()
    {
        var image = new InMemoryImage(new LayerTar().File("a", "1").ToArray(), new LayerTar().File("b", "2").ToArray());
        using var cancel = new CancellationTokenSource();
        var progress = new SynchronousProgress<PullProgress>(p =>
        {
            if (p.Index == 1)
                cancel.Cancel();
        });

        var unpack = () => LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "test", Rootfs, progress, cancel.Token);

        await unpack.Should().ThrowAsync<OperationCanceledException>();
        Directory.Exists(Rootfs).Should().BeFalse();
    }

    [Fact]
    public async Task The_applier_alone_works_on_a_stream_and_a_directory()
    {
        Directory.CreateDirectory(Rootfs);
        byte[] tar = new LayerTar().Directory("etc").File("etc/hostname", "box\n").Symlink("etc/localtime", "/usr/share/zoneinfo/UTC").ToArray();

        var warnings = await LayerApplier.ApplyAsync(new MemoryStream(tar), Rootfs, CancellationToken.None);

        warnings.Should().BeEmpty();
        File.ReadAllText(Path.Combine(Rootfs, "etc/hostname"), Encoding.UTF8).Should().Be("box\n");
        new FileInfo(Path.Combine(Rootfs, "etc/localtime")).LinkTarget.Should().Be("/usr/share/zoneinfo/UTC");
    }

    [Fact]
    public void Decompression_follows_the_media_type()
    {
        byte[] tar = new LayerTar().File("a", "1").ToArray();
        using (var plain = LayerDecompression.Open(new MemoryStream(tar), MediaTypes.OciLayerTar))
            ReadAll(plain).Should().Equal(tar);
        using (var gzip = LayerDecompression.Open(new MemoryStream(InMemoryImage.Gzip(tar)), MediaTypes.DockerLayerGzip))
            ReadAll(gzip).Should().Equal(tar);
        using var compressor = new ZstdSharp.Compressor();
        using (var zstd = LayerDecompression.Open(new MemoryStream(compressor.Wrap(tar).ToArray()), MediaTypes.OciLayerNondistributableZstd))
            ReadAll(zstd).Should().Equal(tar);
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void Entry_names_are_normalised_and_escapes_named()
    {
        LayerEntryPath.Split("./usr//bin/./ls/", "x").Should().Equal("usr", "bin", "ls");
        LayerEntryPath.Split("./", "x").Should().BeEmpty();
        var up = () => LayerEntryPath.Split("usr/../../etc", "the name");
        up.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.PathEscape && e.Message.Contains("'..'"));
        var absolute = () => LayerEntryPath.Split("/etc/passwd", "the name");
        absolute.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.PathEscape && e.Message.Contains("absolute"));
    }

    [Fact]
    public async Task Progress_reports_each_layer_unpacking_then_unpacked()
    {
        var image = new InMemoryImage(new LayerTar().File("a", new string('a', 3_000_000)).ToArray(), new LayerTar().File("b", "2").ToArray());
        var reports = new List<PullProgress>();
        await LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, "test", Rootfs,
            new SynchronousProgress<PullProgress>(reports.Add), CancellationToken.None);

        reports.Select(r => (r.Index, r.Phase)).Distinct().Should().Equal(
            (0, PullPhase.Unpacking), (0, PullPhase.Unpacked), (1, PullPhase.Unpacking), (1, PullPhase.Unpacked));
        reports.Where(r => r.Phase == PullPhase.Unpacked).Select(r => r.Bytes).Should().Equal(image.Manifest.Layers.Select(l => l.Size));
        reports.Where(r => r.Index == 0).Select(r => r.Bytes).Should().BeInAscendingOrder();
    }
}
