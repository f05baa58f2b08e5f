using KataAgent.Image.Manifests;
using KataAgent.Image.Store;

namespace KataAgent.Image.Layout;

/// <summary>
/// Loads images from an OCI image layout (a directory with <c>oci-layout</c>, <c>index.json</c> and <c>blobs/</c>, or
/// a tar archive of one, as <c>skopeo copy … oci-archive:</c> writes), for machines without a registry.
/// </summary>
public static class OciLayoutImporter
{
    /// <summary>
    /// Imports every image the layout's index names (by its <c>org.opencontainers.image.ref.name</c>, as
    /// <paramref name="name"/> when given) for <paramref name="platform"/> into <paramref name="store"/>, verifying
    /// every blob; returns the images stored.
    /// </summary>
    public static Task<IReadOnlyList<StoredImage>> ImportAsync(
        string path,
        ContentStore store,
        string? name,
        Platform platform,
        CancellationToken cancellationToken) =>
        throw new NotImplementedException("seam: OCI layout import is being written");
}
