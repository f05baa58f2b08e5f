using KataAgent.Image.Manifests;

namespace KataAgent.Image.Config;

/// <summary>
/// Turns an image config into the container's process as docker and Kubernetes do: a caller's entrypoint
/// (Kubernetes' <c>command</c>, docker's <c>--entrypoint</c>) replaces the image's Entrypoint and drops its Cmd; a
/// caller's arguments (Kubernetes' <c>args</c>, the words after the image in <c>docker run</c>) replace Cmd. Names in
/// User are resolved in the unpacked rootfs's /etc/passwd and /etc/group, read without following links out of it;
/// an unknown name is an error naming it.
/// </summary>
public static class ImageProcessBuilder
{
    /// <summary>Builds the process of <paramref name="config"/> with the caller's overrides (null keeps the image's).</summary>
    public static ImageProcess Build(
        ImageConfig config,
        string rootfsDirectory,
        IReadOnlyList<string>? entrypoint,
        IReadOnlyList<string>? args,
        IReadOnlyList<string>? extraEnv,
        string? user) =>
        throw new NotImplementedException("seam: config to process is being written");
}
