namespace KataAgent.Host.Pods;

/// <summary>
/// Loads a Kubernetes Pod manifest (YAML or JSON; apiVersion v1, kind Pod) into a <see cref="PodSpec"/>. Every field
/// it does not support is an error naming the field ("spec.containers[0].livenessProbe"), never silently dropped;
/// quantities are parsed as Kubernetes parses them.
/// </summary>
public static class PodManifest
{
    /// <summary>Parses a manifest's text.</summary>
    /// <exception cref="PodManifestException">The manifest is malformed or uses an unsupported field: the message names it.</exception>
    public static PodSpec Parse(string text) => throw new NotImplementedException();

    /// <summary>Reads and parses a manifest file.</summary>
    /// <exception cref="PodManifestException">As <see cref="Parse"/>; the message also names the file.</exception>
    public static Task<PodSpec> LoadAsync(string path, CancellationToken cancellationToken = default) => throw new NotImplementedException();
}
