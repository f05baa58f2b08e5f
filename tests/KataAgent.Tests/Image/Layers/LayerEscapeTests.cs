using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Containment;
using KataAgent.Image.Layers;
using KataAgent.Testing.Images;
using Xunit;

namespace KataAgent.Tests.Image.Layers;

/// <summary>
/// Layers that try to write, link or delete outside the rootfs (written with TarWriter: no real tool makes them).
/// The rootfs is three levels below a scratch directory holding a sentinel directory; every attempt aims at the
/// sentinel. A refused layer is <see cref="ImageErrorKind.PathEscape"/> naming the entry, the rootfs is gone, and the
/// scratch directory (sentinel included) is as it was. Each case runs through the unpacker (openat2) and through the
/// applier on a root that resolves by the O_NOFOLLOW walk.
/// </summary>
public sealed class LayerEscapeTests : IDisposable
{
    private readonly TempDirectory _scratch = new();
    private readonly string _sentinel;
    private readonly string _rootfs;

    public LayerEscapeTests()
    {
        _sentinel = _scratch.CreateDirectory("sentinel");
        File.WriteAllText(Path.Combine(_sentinel, "keep"), "must stay\n");
        Directory.CreateDirectory(Path.Combine(_sentinel, "dir"));
        File.WriteAllText(Path.Combine(_sentinel, "dir", "child"), "must stay too\n");
        Directory.CreateDirectory(_scratch.File("a/b"));
        _rootfs = _scratch.File("a/b/rootfs");
    }

    public void Dispose() => _scratch.Dispose();

    /// <summary>Refused cases: the layers (given the sentinel's path) and the entry the error must name.</summary>
    public static TheoryData<string, string> Refused => new()
    {
        { "dotdot", "../x" },
        { "dotdot-deep", "a/../../../../sentinel/pwned" },
        { "absolute", "{sentinel}/pwned" },
        { "symlinked-parent", "a/passwd" },
        { "symlinked-parent-lower-layer", "lower/pwned" },
        { "hardlink-dotdot", "h" },
        { "hardlink-absolute", "h" },
        { "hardlink-through-symlink", "h" },
        { "symlink-up-then-file", "up/sentinel/pwned" },
        { "symlink-dot-then-dir", "up/sentinel/newdir" },
        { "whiteout-dotdot", "../.wh.keep" },
    };

    private byte[][] Layers(string name)
    {
        string s = _sentinel;
        return name switch
        {
            "dotdot" => [new LayerTar().File("../x", "escaped").ToArray()],
            "dotdot-deep" => [new LayerTar().Directory("a").File("a/../../../../sentinel/pwned", "escaped").ToArray()],
            "absolute" => [new LayerTar().File(s + "/pwned", "escaped").ToArray()],
            "symlinked-parent" => [new LayerTar().Symlink("a", s).File("a/passwd", "escaped").ToArray()],
            "symlinked-parent-lower-layer" => [new LayerTar().Symlink("lower", s).ToArray(), new LayerTar().File("lower/pwned", "escaped").ToArray()],
            "hardlink-dotdot" => [new LayerTar().HardLink("h", "../../../sentinel/keep").ToArray()],
            "hardlink-absolute" => [new LayerTar().HardLink("h", s + "/keep").ToArray()],
            "hardlink-through-symlink" => [new LayerTar().Symlink("out", s).HardLink("h", "out/keep").ToArray()],
            "symlink-up-then-file" => [new LayerTar().Symlink("up", "../../..").File("up/sentinel/pwned", "escaped").ToArray()],
            "symlink-dot-then-dir" => [new LayerTar().Symlink("up", "../../..").Directory("up/sentinel/newdir").ToArray()],
            "whiteout-dotdot" => [new LayerTar().Whiteout("../keep").ToArray()],
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Unpacker_refuses_and_removes_the_rootfs(string name, string entry)
    {
        var before = FileTreeSnapshot.Take(_scratch.Path);
        var image = new InMemoryImage(Layers(name));

        var unpack = () => LayerUnpacker.UnpackAsync(image.OpenBlob, image.Manifest, image.Config, name, _rootfs, null, CancellationToken.None);

        var error = (await unpack.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.PathEscape);
        error.Message.Should().Contain($"entry '{entry.Replace("{sentinel}", _sentinel)}'");
        Directory.Exists(_rootfs).Should().BeFalse("a refused image leaves no half-unpacked rootfs");
        FileTreeSnapshot.Take(_scratch.Path).Diff(before, ignoreDirectoryMtimes: true).Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Applier_on_the_nofollow_walk_refuses(string name, string entry)
    {
        Directory.CreateDirectory(_rootfs);
        var before = FileTreeSnapshot.Take(_sentinel);
        using var root = new ContainedRoot(_rootfs, useOpenat2: false);
        var warnings = new List<string>();

        var apply = async () =>
        {
            foreach (byte[] layer in Layers(name))
                await LayerApplier.ApplyAsync(new MemoryStream(layer), root, name, warnings, CancellationToken.None);
        };

        var error = (await apply.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.PathEscape);
        error.Message.Should().Contain($"entry '{entry.Replace("{sentinel}", _sentinel)}'");
        root.UsesOpenat2.Should().BeFalse();
        FileTreeSnapshot.Take(_sentinel).Diff(before).Should().BeEmpty();
        File.Exists(_scratch.File("a/b/x")).Should().BeFalse();
        File.Exists(_scratch.File("a/x")).Should().BeFalse();
    }

    /// <summary>Contained cases: the layers are applied, and nothing outside is followed or touched.</summary>
    public static TheoryData<string, bool> Contained => new()
    {
        { "absolute-symlink-target", true },
        { "absolute-symlink-target", false },
        { "file-replaces-symlink-out", true },
        { "file-replaces-symlink-out", false },
        { "dir-replaces-symlink-out", true },
        { "whiteout-under-symlink-out", true },
        { "whiteout-under-symlink-out", false },
        { "opaque-under-symlink-out", true },
        { "opaque-under-symlink-out", false },
        { "hardlink-to-symlink-out", true },
        { "hardlink-to-symlink-out", false },
    };

    [Theory]
    [MemberData(nameof(Contained))]
    public async Task Contained_layers_touch_nothing_outside(string name, bool useOpenat2)
    {
        string s = _sentinel;
        byte[][] layers = name switch
        {
            "absolute-symlink-target" => [new LayerTar().Symlink("etc", s).Symlink("passwd", s + "/keep").ToArray()],
            "file-replaces-symlink-out" => [new LayerTar().Symlink("x", s + "/keep").ToArray(), new LayerTar().File("x", "mine").ToArray()],
            "dir-replaces-symlink-out" => [new LayerTar().Symlink("x", s + "/dir").ToArray(), new LayerTar().Directory("x").File("x/child", "mine").ToArray()],
            "whiteout-under-symlink-out" => [new LayerTar().Symlink("x", s).ToArray(), new LayerTar().Whiteout("x/keep").Whiteout("x/dir").ToArray()],
            "opaque-under-symlink-out" => [new LayerTar().Symlink("x", s).ToArray(), new LayerTar().Opaque("x").ToArray()],
            "hardlink-to-symlink-out" => [new LayerTar().Symlink("s", s + "/keep").HardLink("h", "s").ToArray()],
            _ => throw new ArgumentException(name),
        };
        Directory.CreateDirectory(_rootfs);
        var before = FileTreeSnapshot.Take(_sentinel);
        using var root = new ContainedRoot(_rootfs, useOpenat2);
        var warnings = new List<string>();
        foreach (byte[] layer in layers)
            await LayerApplier.ApplyAsync(new MemoryStream(layer), root, name, warnings, CancellationToken.None);

        FileTreeSnapshot.Take(_sentinel).Diff(before).Should().BeEmpty();
        var tree = FileTreeSnapshot.Take(_rootfs).Entries;
        switch (name)
        {
            case "absolute-symlink-target":
                tree["etc"].ContentSha256.Should().Be("-> " + s);
                tree["passwd"].ContentSha256.Should().Be("-> " + s + "/keep");
                break;
            case "file-replaces-symlink-out":
                tree["x"].Type.Should().Be("file");
                File.ReadAllText(Path.Combine(_rootfs, "x")).Should().Be("mine");
                break;
            case "dir-replaces-symlink-out":
                tree["x"].Type.Should().Be("dir");
                tree.Should().ContainKey("x/child");
                break;
            case "whiteout-under-symlink-out" or "opaque-under-symlink-out":
                tree["x"].ContentSha256.Should().Be("-> " + s);
                break;
            case "hardlink-to-symlink-out":
                tree["h"].ContentSha256.Should().Be("-> " + s + "/keep", "a hardlink to a symlink links the symlink itself");
                break;
        }
    }
}
