using KataAgent.Agent.Interop;
using KataAgent.Linux.Mounts;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Guest;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.SharedFs;

/// <summary>
/// The guest's own mounts of what a container used inside the virtio-fs share. virtiofsd announces the host's mount
/// points (its <c>announce_submounts</c>): each container rootfs and volume the host bound into the share becomes an
/// automatic submount in the guest the first time a path walk crosses it (the agent's own checks do), and the kernel
/// never expires those. Once the container is removed, they are detached here (no-follow), in the agent's
/// namespace only: a container's mounts are copies in its own namespace. RemoveStaleVirtiofsShareMounts catches what
/// is left (those of a container this agent did not create); this makes a removal leave nothing mounted at once,
/// without waiting for the guest's cached entries to expire.
/// </summary>
public static class ShareSubmounts
{
    /// <summary>The paths inside <paramref name="sharedDirectory"/> a container uses: its rootfs and its bind mount sources.</summary>
    public static IReadOnlyList<string> Of(string rootfs, Protocols.Agent.Spec spec, string sharedDirectory = GuestLayout.SharedDirectory)
    {
        var paths = new List<string>();
        if (Inside(rootfs, sharedDirectory))
        {
            paths.Add(rootfs.TrimEnd('/'));
        }
        foreach (var mount in spec.Mounts)
        {
            bool bind = mount.Type == "bind" || mount.Options.Contains("bind") || mount.Options.Contains("rbind");
            if (bind && Inside(mount.Source, sharedDirectory))
            {
                paths.Add(Path.GetFullPath(mount.Source).TrimEnd('/'));
            }
        }
        return paths;
    }

    /// <summary>Detaches every mount at or below each of <paramref name="paths"/>, deepest first; returns how many went. Failures are logged, never thrown.</summary>
    public static int Detach(IReadOnlyList<string> paths, ILogger logger, string mountinfoPath = "/proc/self/mountinfo")
    {
        if (paths.Count == 0)
        {
            return 0;
        }
        var points = MountTable.Read(mountinfoPath).Select(m => m.MountPoint)
            .Where(point => paths.Any(path => point == path || point.StartsWith(path + "/", StringComparison.Ordinal)))
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(point => point.Length)
            .ToList();
        int detached = 0;
        foreach (string point in points)
        {
            if (Libc.Umount2(point, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) == 0)
            {
                detached++;
            }
            else
            {
                logger.LogWarning("share submount {MountPoint}: {Error}", point, LinuxException.FromLastError($"unmount {point}").Message);
            }
        }
        return detached;
    }

    private static bool Inside(string path, string sharedDirectory) =>
        path.StartsWith('/') && !path.Contains('\0') && Path.GetFullPath(path).StartsWith(sharedDirectory, StringComparison.Ordinal)
        && Path.GetFullPath(path).Length > sharedDirectory.Length;
}
