using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using KataAgent.Image.Manifests;

namespace KataAgent.Testing.Registry;

/// <summary>
/// Writes OCI image layouts byte by byte for the image tests (what umoci cannot be asked for: a layer of random
/// bytes too large to buffer, a chosen platform per image, nested indexes, Docker media types): <c>oci-layout</c>,
/// <c>blobs/sha256/…</c> and <c>index.json</c>. skopeo pushes such a layout as it is.
/// </summary>
public sealed class OciLayoutWriter
{
    /// <summary>The annotation an index.json entry's name is in.</summary>
    public const string RefName = "org.opencontainers.image.ref.name";

    /// <summary>Starts a layout in <paramref name="directory"/> (created).</summary>
    public OciLayoutWriter(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(directory, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    /// <summary>The layout's directory.</summary>
    public string Directory { get; }

    /// <summary>The file of a blob in the layout.</summary>
    public string BlobPath(string digest) => Path.Combine(Directory, "blobs", "sha256", digest["sha256:".Length..]);

    /// <summary>Stores <paramref name="content"/> as a blob and returns its descriptor.</summary>
    public Descriptor WriteBlob(byte[] content, string mediaType)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        File.WriteAllBytes(BlobPath(digest), content);
        return new Descriptor { MediaType = mediaType, Digest = digest, Size = content.Length };
    }

    /// <summary>
    /// An image of <paramref name="layers"/> (uncompressed tars) for <paramref name="platform"/>: each layer stored
    /// gzip-compressed or as it is, the config with their diff_ids and <paramref name="cmd"/>, the manifest. Returns
    /// the manifest's descriptor with the platform set (ready for an index). <paramref name="zstdLayers"/> names the
    /// layers (by index) stored as tar+zstd instead.
    /// </summary>
    public Descriptor WriteImage(Platform platform, IReadOnlyList<byte[]> layers, bool gzip = true, bool docker = false, IReadOnlyList<string>? cmd = null, IReadOnlySet<int>? zstdLayers = null)
    {
        var layerDescriptors = new List<Descriptor>();
        var diffIds = new List<string>();
        for (int i = 0; i < layers.Count; i++)
        {
            byte[] tar = layers[i];
            diffIds.Add("sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar)));
            layerDescriptors.Add(zstdLayers?.Contains(i) == true
                ? WriteBlob(Zstd(tar), MediaTypes.OciLayerZstd)
                : gzip
                    ? WriteBlob(Gzip(tar), docker ? MediaTypes.DockerLayerGzip : MediaTypes.OciLayerGzip)
                    : WriteBlob(tar, MediaTypes.OciLayerTar));
        }
        var config = new ImageConfig
        {
            Architecture = platform.Architecture,
            Os = platform.Os,
            Variant = platform.Variant,
            Config = new ImageRunConfig { Cmd = cmd ?? ["/bin/sh"], Env = ["PATH=/bin"] },
            Rootfs = new ImageRootfs { DiffIds = diffIds },
        };
        var configDescriptor = WriteBlob(JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig),
            docker ? MediaTypes.DockerConfig : MediaTypes.OciConfig);
        var manifest = new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = docker ? MediaTypes.DockerManifest : MediaTypes.OciManifest,
            Config = configDescriptor,
            Layers = layerDescriptors,
        };
        var descriptor = WriteBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, ImageJsonContext.Default.ImageManifest), manifest.MediaType);
        return descriptor with { Platform = platform };
    }

    /// <summary>An index blob listing <paramref name="manifests"/> (for nesting, or to PUT).</summary>
    public Descriptor WriteIndexBlob(IReadOnlyList<Descriptor> manifests) =>
        WriteBlob(IndexBytes(manifests), MediaTypes.OciIndex);

    /// <summary>The bytes of an OCI index listing <paramref name="manifests"/>.</summary>
    public static byte[] IndexBytes(IReadOnlyList<Descriptor> manifests) =>
        JsonSerializer.SerializeToUtf8Bytes(new ImageIndex { SchemaVersion = 2, MediaType = MediaTypes.OciIndex, Manifests = manifests },
            ImageJsonContext.Default.ImageIndex);

    /// <summary>Writes index.json with <paramref name="entries"/> (name them with <see cref="Named"/>).</summary>
    public void WriteIndexJson(IReadOnlyList<Descriptor> entries) =>
        File.WriteAllBytes(Path.Combine(Directory, "index.json"), IndexBytes(entries));

    /// <summary><paramref name="descriptor"/> with the ref.name annotation index.json names images by.</summary>
    public static Descriptor Named(Descriptor descriptor, string name) =>
        descriptor with { Annotations = new Dictionary<string, string> { [RefName] = name } };

    /// <summary>A tar of regular files (name, content), mode 0644, root-owned.</summary>
    public static byte[] Tar(params (string Name, byte[] Content)[] files)
    {
        var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
                {
                    DataStream = new MemoryStream(content),
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                    ModificationTime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
                };
                tar.WriteEntry(entry);
            }
        }
        return buffer.ToArray();
    }

    /// <summary>A tar of one file of <paramref name="size"/> random bytes: a layer no socket buffer holds whole.</summary>
    public static byte[] RandomTar(string name, int size)
    {
        var content = new byte[size];
        Random.Shared.NextBytes(content);
        return Tar((name, content));
    }

    private static byte[] Zstd(byte[] content)
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(content).ToArray();
    }

    private static byte[] Gzip(byte[] content)
    {
        var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(content);
        return buffer.ToArray();
    }
}
