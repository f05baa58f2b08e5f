namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// Turns an OCI <c>Linux.CgroupsPath</c> into a path relative to the cgroup2 mount root.
/// Absolute and relative paths are both taken relative to the root (as runc does for a process in
/// the root cgroup, which the agent is); systemd-style "slice:prefix:name" paths are expanded the
/// way runc's systemd driver names its units; an empty path defaults to <c>kata/&lt;containerId&gt;</c>.
/// </summary>
public static class CgroupPath
{
    /// <summary>The parent of containers whose spec names no cgroup.</summary>
    public const string DefaultParent = "kata";

    /// <summary>The relative cgroup path for a container (see the type's summary).</summary>
    public static string ForContainer(string? ociCgroupsPath, string containerId)
    {
        ValidateName(containerId, "container id");
        if (string.IsNullOrEmpty(ociCgroupsPath))
        {
            return $"{DefaultParent}/{containerId}";
        }
        if (IsSystemdStyle(ociCgroupsPath))
        {
            return FromSystemd(ociCgroupsPath);
        }
        return Normalize(ociCgroupsPath);
    }

    /// <summary>
    /// Normalises <paramref name="path"/> to "a/b/c": leading '/' dropped, empty and "." segments
    /// removed, ".." resolved. A path that climbs above the root, names the root itself or holds a
    /// NUL is refused.
    /// </summary>
    public static string Normalize(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Contains('\0'))
        {
            throw new CgroupException($"cgroup path '{path.Replace("\0", "\\0")}' contains a NUL character");
        }
        var segments = new List<string>();
        foreach (string segment in path.Split('/'))
        {
            switch (segment)
            {
                case "" or ".":
                    continue;
                case "..":
                    if (segments.Count == 0)
                    {
                        throw new CgroupException($"cgroup path '{path}' escapes the cgroup root");
                    }
                    segments.RemoveAt(segments.Count - 1);
                    continue;
                default:
                    segments.Add(segment);
                    continue;
            }
        }
        if (segments.Count == 0)
        {
            throw new CgroupException($"cgroup path '{path}' names the cgroup root; a container needs its own cgroup");
        }
        return string.Join('/', segments);
    }

    /// <summary>True for "name.slice:prefix:name" (the systemd cgroup driver's form).</summary>
    public static bool IsSystemdStyle(string path)
    {
        string[] parts = path.Split(':');
        return parts.Length == 3 && !path.Contains('/') && (parts[0].Length == 0 || parts[0].EndsWith(".slice", StringComparison.Ordinal));
    }

    /// <summary>
    /// "kubepods-burstable-pod1.slice:cri-containerd:abc" →
    /// "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope".
    /// An empty slice means system.slice, as in runc.
    /// </summary>
    private static string FromSystemd(string path)
    {
        string[] parts = path.Split(':');
        string slice = parts[0].Length == 0 ? "system.slice" : parts[0];
        string prefix = parts[1];
        string name = parts[2];
        ValidateName(name, "systemd unit name");
        if (prefix.Length > 0)
        {
            ValidateName(prefix, "systemd unit prefix");
        }

        string stem = slice[..^".slice".Length];
        if (stem != "-" && (stem.Length == 0 || stem.StartsWith('-') || stem.EndsWith('-') || stem.Contains("--", StringComparison.Ordinal)))
        {
            throw new CgroupException($"cgroup path '{path}': '{slice}' is not a valid systemd slice name");
        }
        var segments = new List<string>();
        if (stem != "-") // "-.slice" is the root slice
        {
            string[] words = stem.Split('-');
            for (int i = 1; i <= words.Length; i++)
            {
                segments.Add(string.Join('-', words[..i]) + ".slice");
            }
        }
        segments.Add(name.EndsWith(".slice", StringComparison.Ordinal) ? name : (prefix.Length > 0 ? $"{prefix}-{name}.scope" : $"{name}.scope"));
        return Normalize(string.Join('/', segments));
    }

    private static void ValidateName(string name, string what)
    {
        if (string.IsNullOrEmpty(name) || name is "." or ".." || name.Contains('/') || name.Contains('\0'))
        {
            throw new CgroupException($"{what} '{name?.Replace("\0", "\\0")}' cannot be used in a cgroup path");
        }
    }
}
