using System.IO.Compression;
using System.Security.Cryptography;
using KataAgent.Image.Manifests;

namespace KataAgent.Testing.Images;

/// <summary>
/// An image held in memory: layer tars gzip-compressed (or not), the manifest and a config whose diff_ids are
/// the tars' digests (or what a test puts there instead), and the blobs by digest.
/// </summary>
public sealed class InMemoryImage
{
    private readonly Dictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);

    /// <summary>An image of <paramref name="layers"/> (uncompressed tars, base first), each gzip-compressed.</summary>
    public InMemoryImage(params byte[][] layers)
    {
        var descriptors = new List<Descriptor>();
        var diffIds = new List<string>();
        foreach (byte[] tar in layers)
        {
            byte[] blob = Gzip(tar);
            string digest = Sha256(blob);
            _blobs[digest] = blob;
            descriptors.Add(new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = digest, Size = blob.Length });
            diffIds.Add(Sha256(tar));
        }
        Manifest = new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = "sha256:" + new string('0', 64), Size = 2 },
            Layers = descriptors,
        };
        Config = new ImageConfig { Os = "linux", Architecture = "amd64", Rootfs = new ImageRootfs { DiffIds = diffIds } };
    }

    /// <summary>The manifest.</summary>
    public ImageManifest Manifest { get; set; }

    /// <summary>The config.</summary>
    public ImageConfig Config { get; set; }

    /// <summary>Opens a blob the manifest names.</summary>
    public Stream OpenBlob(Descriptor descriptor) => new MemoryStream(_blobs[descriptor.Digest], writable: false);

    /// <summary>sha256 of <paramref name="content"/> as a digest string.</summary>
    public static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>gzip of <paramref name="content"/>.</summary>
    public static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(content);
        return output.ToArray();
    }
}
