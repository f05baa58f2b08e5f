using KataAgent.Linux.Interop;
using KataAgent.Linux.Mounts;

namespace KataAgent.Host.SharedFs;

/// <summary>
/// Deleting a VM's or sandbox's state directory safely. A sandbox shares its containers' rootfs directories and
/// volumes by bind-mounting them into its state directory; a plain recursive delete through a bind mount left
/// behind (a crash half-way, a teardown that failed) would delete the user's rootfs or volume. So every mount at or
/// below the directory is detached first (no-follow), and the delete itself never enters another mount and never
/// follows a symlink.
/// </summary>
public static class StateDirectory
{
    /// <summary>
    /// Detaches every mount at or below <paramref name="path"/> (deepest first, <c>MNT_DETACH|UMOUNT_NOFOLLOW</c>), then
    /// deletes the directory and everything in it, refusing to enter any directory on another mount. A symlink is
    /// deleted as a link, never followed. A path that does not exist is fine.
    /// </summary>
    /// <exception cref="ShareException">A mount would not go, or something below is still a mount point: nothing
    /// below it was deleted.</exception>
    /// <exception cref="IOException">A file could not be deleted.</exception>
    public static void Delete(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (HostMounts.Stat(full) is not { } root)
        {
            return;
        }
        if (root.Type != Libc.S_IFDIR)
        {
            // A symlink (or a file) where the directory was: the link goes, whatever it points at stays.
            File.Delete(full);
            return;
        }
        HostMounts.UnmountAllAtOrBelow(full);
        var parent = HostMounts.Stat(Path.GetDirectoryName(full.TrimEnd('/')) ?? "/");
        root = HostMounts.Stat(full) ?? root;
        if (parent is { } p && p.MountId != root.MountId)
        {
            throw new ShareException($"{full} is still a mount point after unmounting everything there: not deleting through it");
        }
        DeleteContents(full, root.MountId);
        Directory.Delete(full);
    }

    /// <summary>Unmounts everything at or below <paramref name="path"/> (as <see cref="Delete"/> does first) and leaves the files.</summary>
    /// <exception cref="ShareException">A mount would not go.</exception>
    public static void UnmountAll(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (HostMounts.Stat(Path.GetFullPath(path)) is { Type: Libc.S_IFDIR })
        {
            HostMounts.UnmountAllAtOrBelow(path);
        }
    }

    /// <summary>The mount points at or below <paramref name="path"/> this process sees (empty when it does not exist).</summary>
    public static IReadOnlyList<string> MountPoints(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return HostMounts.Canonical(Path.GetFullPath(path)) is { } canonical ? MountTable.MountPointsAtOrBelow(canonical) : [];
    }

    private static void DeleteContents(string directory, ulong mountId)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            if (HostMounts.Stat(entry) is not { } stat)
            {
                continue;
            }
            if (stat.MountId != mountId)
            {
                throw new ShareException($"{entry} is a mount point (something mounted it while the state was deleted): not deleting through it");
            }
            if (stat.Type == Libc.S_IFDIR)
            {
                DeleteContents(entry, mountId);
                Directory.Delete(entry);
            }
            else
            {
                File.Delete(entry);
            }
        }
    }
}
