using System.Text.Json;
using System.Text.Json.Nodes;
using KataAgent.Image.Manifests;

namespace KataAgent.Testing.Images;

/// <summary>
/// One tagged image of an OCI image layout directory, read as the tests need it: the manifest, the config and the
/// blobs by descriptor (what <c>LayerUnpacker</c>'s blob-opener overload takes).
/// </summary>
/// <param name="Layout">The layout directory.</param>
/// <param name="Tag">The <c>org.opencontainers.image.ref.name</c> of the manifest in index.json.</param>
/// <param name="ManifestDigest">The manifest's digest.</param>
/// <param name="Manifest">The parsed manifest.</param>
/// <param name="Config">The parsed config.</param>
public sealed record OciLayoutImage(string Layout, string Tag, string ManifestDigest, ImageManifest Manifest, ImageConfig Config)
{
    private const string RefName = "org.opencontainers.image.ref.name";

    /// <summary>Reads the image tagged <paramref name="tag"/> in <paramref name="layout"/>.</summary>
    public static OciLayoutImage Load(string layout, string tag)
    {
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!;
        var entry = index["manifests"]!.AsArray().Single(m => (string?)m!["annotations"]?[RefName] == tag)!;
        string digest = (string)entry["digest"]!;
        var manifest = JsonSerializer.Deserialize<ImageManifest>(File.ReadAllBytes(BlobPath(layout, digest)))!;
        var config = JsonSerializer.Deserialize<ImageConfig>(File.ReadAllBytes(BlobPath(layout, manifest.Config.Digest)))!;
        return new OciLayoutImage(layout, tag, digest, manifest, config);
    }

    /// <summary>The file of the blob <paramref name="digest"/> names.</summary>
    public static string BlobPath(string layout, string digest)
    {
        var parts = digest.Split(':');
        return Path.Combine(layout, "blobs", parts[0], parts[1]);
    }

    /// <summary>Opens a blob for reading.</summary>
    public Stream OpenBlob(Descriptor descriptor) => File.OpenRead(BlobPath(Layout, descriptor.Digest));
}
