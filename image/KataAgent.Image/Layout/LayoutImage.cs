using KataAgent.Image.Manifests;

namespace KataAgent.Image.Layout;

/// <summary>One image an OCI layout names: its index.json name, the manifest chosen for the platform, the index it came from.</summary>
/// <param name="RefName">The entry's <c>org.opencontainers.image.ref.name</c>, or null.</param>
/// <param name="Manifest">The platform manifest's descriptor.</param>
/// <param name="Index">The (outermost) nested index the manifest was chosen from, or null.</param>
internal sealed record LayoutImage(string? RefName, Descriptor Manifest, Descriptor? Index);
