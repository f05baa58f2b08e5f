using KataAgent.Helpers.Containers.Init;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Extensions;

namespace KataAgent.Agent.Pods;

/// <summary>
/// A container's VolumeMounts turned into bind mounts of its OCI spec. A sub_path is resolved inside its volume
/// with the volume's directory as "/" (<see cref="SecurePath"/>): a symlink in the volume, absolute or relative, and
/// any "..", land inside the volume, never outside it. CreatePod resolves them while none of the pod's containers
/// runs, so nothing in the pod can swap a path under the resolution; a sub_path that does not exist yet is made
/// (a directory, as Kubernetes makes it). Plain (not recursive) binds: a read-only mount then has no writable submount.
/// </summary>
internal static class VolumeMountPaths
{
    private const int MaxPath = 4096;

    /// <summary>Why <paramref name="path"/> cannot be a container_path, or null.</summary>
    public static string? ContainerPathProblem(string path) =>
        path.Length == 0 ? "is empty"
        : path.Length > MaxPath ? $"is longer than {MaxPath} characters"
        : path.Contains('\0') ? "holds a NUL byte"
        : !path.StartsWith('/') ? $"'{path}' is not an absolute path"
        : path.Split('/').Any(part => part is "." or "..") ? $"'{path}' holds '.' or '..'"
        : path.TrimEnd('/').Length == 0 ? "'/' cannot be a volume's mount point"
        : null;

    /// <summary>Why <paramref name="subPath"/> cannot be a sub_path, or null (an empty one means the volume's root).</summary>
    public static string? SubPathProblem(string subPath) =>
        subPath.Length > MaxPath ? $"is longer than {MaxPath} characters"
        : subPath.Contains('\0') ? "holds a NUL byte"
        : subPath.StartsWith('/') ? $"'{subPath}' is absolute; it is a path inside the volume"
        : subPath.Split('/').Any(part => part == "..") ? $"'{subPath}' holds '..'"
        : null;

    /// <summary>
    /// A copy of <paramref name="spec"/> with <paramref name="mounts"/> added as bind mounts of the volumes' guest
    /// directories (<paramref name="volumeDirectories"/> by volume name); errors name <c><paramref name="at"/>.volume_mounts[j]</c>.
    /// </summary>
    public static Protocols.Agent.Spec Bind(Protocols.Agent.Spec spec, IReadOnlyList<VolumeMount> mounts, IReadOnlyDictionary<string, string> volumeDirectories, string at)
    {
        var bound = spec.Clone();
        for (int j = 0; j < mounts.Count; j++)
        {
            var mount = mounts[j];
            string root = volumeDirectories[mount.Volume];
            string source = root;
            string subPath = mount.SubPath.Trim('/');
            if (subPath.Length > 0)
            {
                try
                {
                    source = SecurePath.Join(root, subPath);
                }
                catch (Exception e) when (e is InitException or IOException)
                {
                    // A name the volume's filesystem cannot hold (ENAMETOOLONG) is the request's fault as much as a loop.
                    throw AgentException.InvalidArgument($"{at}.volume_mounts[{j}].sub_path", e.Message);
                }
                if (source != root && !source.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
                {
                    throw AgentException.InvalidArgument($"{at}.volume_mounts[{j}].sub_path", $"'{mount.SubPath}' resolves outside volume '{mount.Volume}'");
                }
                if (!Path.Exists(source))
                {
                    try
                    {
                        Directory.CreateDirectory(source);
                    }
                    catch (IOException e)
                    {
                        throw AgentException.InvalidArgument($"{at}.volume_mounts[{j}].sub_path", $"cannot make '{mount.SubPath}' in volume '{mount.Volume}': {e.Message}");
                    }
                }
            }
            bound.Mounts.Add(new Protocols.Agent.Mount
            {
                Destination = mount.ContainerPath,
                Source = source,
                Type = "bind",
                Options = { "bind", mount.ReadOnly ? "ro" : "rw" },
            });
        }
        return bound;
    }
}
