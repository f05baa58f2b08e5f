using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KataAgent.Linux.Interop;
using KataAgent.Rootfs.Busybox;

namespace KataAgent.Testing.Images;

/// <summary>
/// Test images built offline with umoci into an OCI layout directory (reference vm-io-imagepull.md §3.7): the
/// busybox-static image (tag <c>busybox</c>), a four-layer image with whiteouts, an opaque directory, hardlinks,
/// symlinks, a fifo and devices, setuid/setgid, owners and xattrs (tag <c>multi</c>), and the same image with a layer
/// recompressed as zstd (tag <c>multi-zstd</c>; the manifest rewritten here, the diff_ids unchanged). Needs root
/// (owners, device nodes, security.capability).
/// </summary>
public static class TestImageBuilder
{
    /// <summary>The busybox image's tag.</summary>
    public const string Busybox = "busybox";

    /// <summary>The multi-layer image's tag.</summary>
    public const string MultiLayer = "multi";

    /// <summary>The multi-layer image with its second layer as tar+zstd.</summary>
    public const string MultiLayerZstd = "multi-zstd";

    /// <summary>The multi-layer image with its first layer uncompressed (plain tar).</summary>
    public const string MultiLayerTar = "multi-tar";

    /// <summary>Builds every image into the new layout <paramref name="layout"/>; scratch bundles go to <paramref name="scratch"/>.</summary>
    public static async Task BuildAllAsync(string layout, string scratch)
    {
        string umoci = HostTools.Require("umoci", "umoci");
        HostTools.Require("zstd", "zstd");
        HostTools.Require("setcap", "libcap2-bin");
        await HostTools.RunAsync(umoci, ["init", "--layout", layout]);
        await BuildBusyboxAsync(umoci, layout, Path.Combine(scratch, "busybox"));
        await BuildMultiLayerAsync(umoci, layout, Path.Combine(scratch, "multi"));
        await RecompressLayerAsync(layout, MultiLayer, MultiLayerZstd, 1, "zstd");
        await RecompressLayerAsync(layout, MultiLayer, MultiLayerTar, 0, "tar");
        await HostTools.RunAsync(umoci, ["gc", "--layout", layout]);
    }

    private static async Task BuildBusyboxAsync(string umoci, string layout, string bundle)
    {
        string image = $"{layout}:{Busybox}";
        await HostTools.RunAsync(umoci, ["new", "--image", image]);
        await HostTools.RunAsync(umoci, ["unpack", "--image", image, bundle]);
        string rootfs = Path.Combine(bundle, "rootfs");
        Directory.Delete(rootfs, recursive: true);
        await BusyboxRootfs.CreateAsync(rootfs, RepoPaths.Busybox);
        await HostTools.RunAsync(umoci, ["repack", "--image", image, bundle]);
        await HostTools.RunAsync(umoci, ["config", "--image", image, "--config.entrypoint", "/bin/sh", "--config.cmd", "-c",
            "--config.cmd", "echo hello", "--config.env", "PATH=/bin", "--config.workingdir", "/", "--os", "linux", "--architecture", "amd64"]);
    }

    private static async Task BuildMultiLayerAsync(string umoci, string layout, string scratch)
    {
        string image = $"{layout}:{MultiLayer}";
        string bundle = Path.Combine(scratch, "bundle");
        await HostTools.RunAsync(umoci, ["new", "--image", image]);
        await HostTools.RunAsync(umoci, ["unpack", "--image", image, bundle]);
        string r = Path.Combine(bundle, "rootfs");

        // Layer 0: the base.
        Directory.Delete(r, recursive: true);
        await BusyboxRootfs.CreateAsync(r, RepoPaths.Busybox);
        Write(r, "etc/motd", "welcome\n");
        Write(r, "opt/keep/a.txt", "a\n");
        Write(r, "opt/keep/sub/b.txt", "b\n");
        Write(r, "opt/gone/x", "x\n");
        Write(r, "opt/gone/deeper/y", "y\n");
        Write(r, "srv/file-to-dir", "was a file\n");
        Write(r, "srv/dir-to-file/child", "was in a dir\n");
        Write(r, "usr/share/data/a", new string('a', 5000));
        File.CreateSymbolicLink(Path.Combine(r, "usr/share/data/abs"), "/etc/passwd");
        File.CreateSymbolicLink(Path.Combine(r, "usr/share/data/rel"), "../../../etc/motd");
        File.CreateSymbolicLink(Path.Combine(r, "usr/share/data/dangling"), "/nowhere/at/all");
        Link(r, "usr/share/data/a", "usr/share/data/a-hardlink");
        Write(r, "usr/bin/ping", "#!/bin/sh\necho ping\n");
        await HostTools.RunAsync("setcap", ["cap_net_raw,cap_setuid+ep", Path.Combine(r, "usr/bin/ping")]);
        Write(r, "usr/bin/setuid", "suid\n");
        Own(r, "usr/bin/setuid", 0, 0, 0x9ED);          // 4755
        Write(r, "usr/bin/setgid", "sgid\n");
        Own(r, "usr/bin/setgid", 1000, 42, 0x5ED);      // 2755
        Directory.CreateDirectory(Path.Combine(r, "home/user"));
        Own(r, "home/user", 1000, 1000, 0x1E8);         // 0750
        Write(r, "home/user/.profile", "export A=1\n");
        Own(r, "home/user/.profile", 1000, 1000, 0x180);
        Write(r, "etc/xattr-file", "x\n");
        SetXattr(r, "etc/xattr-file", "user.binary", [0x80, 0xFF, 0x00, 0x61]);
        SetXattr(r, "etc/xattr-file", "user.text", "hello"u8.ToArray());
        Directory.CreateDirectory(Path.Combine(r, "opt/xdir"));
        SetXattr(r, "opt/xdir", "user.dir", "d"u8.ToArray());
        Directory.CreateDirectory(Path.Combine(r, "run/ipc"));
        await HostTools.RunAsync("mkfifo", ["-m", "0620", Path.Combine(r, "run/ipc/fifo")]);
        await HostTools.RunAsync("mknod", ["-m", "0666", Path.Combine(r, "dev/null"), "c", "1", "3"]);
        await HostTools.RunAsync("mknod", ["-m", "0660", Path.Combine(r, "dev/loop7"), "b", "7", "7"]);
        Write(r, "etc/hosts", "127.0.0.1 localhost\n");
        File.SetLastWriteTimeUtc(Path.Combine(r, "etc/hosts"), new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc));
        // --refresh-bundle: the next repack's diff is against this layer, not against the empty unpack.
        await HostTools.RunAsync(umoci, ["repack", "--refresh-bundle", "--image", image, bundle]);

        // Layer 1: deletions (whiteouts of a file and of a tree), type changes both ways, a directory's new owner
        // and mode over the old one, a new hardlink pair, a replaced symlink.
        File.Delete(Path.Combine(r, "etc/motd"));
        Directory.Delete(Path.Combine(r, "opt/gone"), recursive: true);
        File.Delete(Path.Combine(r, "srv/file-to-dir"));
        Write(r, "srv/file-to-dir/c", "now a dir\n");
        Directory.Delete(Path.Combine(r, "srv/dir-to-file"), recursive: true);
        Write(r, "srv/dir-to-file", "now a file\n");
        Own(r, "home/user", 1001, 1001, 0x1C0);          // 0700
        Write(r, "var/lib/b", "bbb\n");
        Link(r, "var/lib/b", "var/lib/b-hardlink");
        File.Delete(Path.Combine(r, "usr/share/data/rel"));
        File.CreateSymbolicLink(Path.Combine(r, "usr/share/data/rel"), "a");
        await HostTools.RunAsync(umoci, ["repack", "--image", image, bundle]);

        // Layer 2: an opaque /opt/keep (its old children hidden, the new one written after the opaque marker).
        string source = Path.Combine(scratch, "opaque-src");
        Write(source, "only-this.txt", "fresh\n");
        await HostTools.RunAsync(umoci, ["insert", "--image", image, "--opaque", source, "/opt/keep"]);

        // Layer 3: a whiteout from umoci insert (mode 0, mtime 1970) of an applet link.
        await HostTools.RunAsync(umoci, ["insert", "--image", image, "--whiteout", "/bin/vi"]);
        await HostTools.RunAsync(umoci, ["config", "--image", image, "--config.cmd", "sh", "--config.user", "nobody",
            "--os", "linux", "--architecture", "amd64"]);
    }

    /// <summary>
    /// Tags <paramref name="toTag"/> as <paramref name="fromTag"/> with layer <paramref name="layer"/> decompressed
    /// and, for <c>zstd</c>, recompressed with the zstd tool; the manifest is rewritten (media type, digest, size),
    /// the config and its diff_ids are not.
    /// </summary>
    public static async Task RecompressLayerAsync(string layout, string fromTag, string toTag, int layer, string format)
    {
        var source = OciLayoutImage.Load(layout, fromTag);
        var descriptor = source.Manifest.Layers[layer];
        byte[] tar;
        using (var gzip = new GZipStream(source.OpenBlob(descriptor), CompressionMode.Decompress))
        using (var plain = new MemoryStream())
        {
            await gzip.CopyToAsync(plain);
            tar = plain.ToArray();
        }
        byte[] blob = tar;
        string mediaType = "application/vnd.oci.image.layer.v1.tar";
        if (format == "zstd")
        {
            string tarFile = Path.Combine(layout, "recompress.tar");
            await File.WriteAllBytesAsync(tarFile, tar);
            await HostTools.RunAsync("zstd", ["-q", "-f", "-19", tarFile, "-o", tarFile + ".zst"]);
            blob = await File.ReadAllBytesAsync(tarFile + ".zst");
            File.Delete(tarFile);
            File.Delete(tarFile + ".zst");
            mediaType = "application/vnd.oci.image.layer.v1.tar+zstd";
        }
        string layerDigest = WriteBlob(layout, blob);

        var manifest = JsonNode.Parse(File.ReadAllBytes(OciLayoutImage.BlobPath(layout, source.ManifestDigest)))!;
        var entry = manifest["layers"]![layer]!;
        entry["mediaType"] = mediaType;
        entry["digest"] = layerDigest;
        entry["size"] = blob.Length;
        byte[] manifestBytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        string manifestDigest = WriteBlob(layout, manifestBytes);

        string indexPath = Path.Combine(layout, "index.json");
        var index = JsonNode.Parse(File.ReadAllText(indexPath))!;
        index["manifests"]!.AsArray().Add(new JsonObject
        {
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["digest"] = manifestDigest,
            ["size"] = manifestBytes.Length,
            ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = toTag },
        });
        await File.WriteAllTextAsync(indexPath, index.ToJsonString());
    }

    /// <summary>Stores <paramref name="content"/> as a blob of the layout; returns its digest.</summary>
    public static string WriteBlob(string layout, byte[] content)
    {
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        string path = OciLayoutImage.BlobPath(layout, digest);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return digest;
    }

    private static void Write(string root, string relative, string content)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private static void Link(string root, string target, string link)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, link))!);
        HostTools.Run("ln", Path.Combine(root, target), Path.Combine(root, link));
    }

    private static void Own(string root, string relative, uint uid, uint gid, int mode)
    {
        string path = Path.Combine(root, relative);
        Libc.Check(Libc.Chown(path, uid, gid), $"chown {path}");
        File.SetUnixFileMode(path, (UnixFileMode)mode);
    }

    private static unsafe void SetXattr(string root, string relative, string name, byte[] value)
    {
        string path = Path.Combine(root, relative);
        using var file = SafeFileDescriptor.Check(Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC), $"open {path}");
        fixed (byte* p = value)
            Libc.Check(Libc.Fsetxattr((int)file.DangerousGetHandle(), name, p, (nuint)value.Length, 0), $"setxattr {name} {path}");
    }
}
