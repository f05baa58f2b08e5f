using KataAgent.Linux.Mounts;

namespace KataAgent.Agent.Containers.Cgroups;

/// <summary>
/// Finds the cgroup2 hierarchy from mountinfo: /sys/fs/cgroup in a unified guest,
/// /sys/fs/cgroup/unified on a hybrid host.
/// </summary>
public static class Cgroup2Mount
{
    /// <summary>The mount point of the first cgroup2 mount in <paramref name="mountinfoPath"/>, or null.</summary>
    public static string? Find(string mountinfoPath = "/proc/self/mountinfo") =>
        File.Exists(mountinfoPath) ? FindIn(File.ReadAllText(mountinfoPath)) : null;

    /// <summary>The mount point of the first cgroup2 mount in a mountinfo text, or null.</summary>
    public static string? FindIn(string mountinfo) =>
        MountTable.Parse(mountinfo).FirstOrDefault(mount => mount.FilesystemType == "cgroup2")?.MountPoint;
}
