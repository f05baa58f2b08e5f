using KataAgent.Testing.Images;

namespace KataAgent.VmTests.Images;

/// <summary>
/// The guest pull tests' images, built offline with umoci into one OCI layout: <see cref="BusyboxAppImage"/> (tag
/// <c>app</c>: entrypoint, env, workdir and user set), and tag <see cref="LayeredTag"/> on top of it with two more
/// layers: the second deletes <c>/srv/app/note.txt</c> (a whiteout), adds <c>/etc/conf.d/old.conf</c> and
/// <c>/data/token.txt</c> holding <see cref="Token"/>, a random string made for this run that no other file has;
/// the third makes <c>/etc/conf.d</c> opaque with only <c>new.conf</c> in it; and tag <see cref="ZstdTag"/>, the
/// app image with its layer recompressed as tar+zstd (the config and its diff_ids unchanged).
/// </summary>
public static class GuestPullImages
{
    /// <summary>The layered image's tag in the layout.</summary>
    public const string LayeredTag = "layered";

    /// <summary>The app image with a tar+zstd layer.</summary>
    public const string ZstdTag = "app-zstd";

    /// <summary>What the token file holds: unique to this process, written nowhere but into the image.</summary>
    public static string Token { get; } = "guest-pull-token-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Builds both images into the new layout <paramref name="layout"/>, using <paramref name="scratch"/> for bundles (emptied after).</summary>
    public static async Task BuildAsync(string layout, string scratch)
    {
        await BusyboxAppImage.BuildAsync(layout, scratch);
        string umoci = HostTools.Require("umoci", "umoci");
        string bundle = Path.Combine(scratch, "layered-bundle");
        await HostTools.RunAsync(umoci, ["unpack", "--image", $"{layout}:{BusyboxAppImage.Tag}", bundle]);
        string rootfs = Path.Combine(bundle, "rootfs");
        File.Delete(Path.Combine(rootfs, "srv", "app", "note.txt"));
        Directory.CreateDirectory(Path.Combine(rootfs, "etc", "conf.d"));
        await File.WriteAllTextAsync(Path.Combine(rootfs, "etc", "conf.d", "old.conf"), "old\n");
        Directory.CreateDirectory(Path.Combine(rootfs, "data"));
        await File.WriteAllTextAsync(Path.Combine(rootfs, "data", "token.txt"), Token + "\n");
        await HostTools.RunAsync(umoci, ["repack", "--image", $"{layout}:{LayeredTag}", bundle]);
        string conf = Directory.CreateDirectory(Path.Combine(scratch, "new-conf.d")).FullName;
        await File.WriteAllTextAsync(Path.Combine(conf, "new.conf"), "new\n");
        await HostTools.RunAsync(umoci, ["insert", "--image", $"{layout}:{LayeredTag}", "--opaque", conf, "/etc/conf.d"]);
        await TestImageBuilder.RecompressLayerAsync(layout, BusyboxAppImage.Tag, ZstdTag, 0, "zstd");
        await HostTools.RunAsync(umoci, ["gc", "--layout", layout]);
        Directory.Delete(scratch, recursive: true);
    }
}
