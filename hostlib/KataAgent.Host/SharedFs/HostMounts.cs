using KataAgent.Linux.Interop;
using KataAgent.Linux.Mounts;

namespace KataAgent.Host.SharedFs;

/// <summary>
/// The host-side mount calls of a sandbox's share. Every unmount is <c>MNT_DETACH | UMOUNT_NOFOLLOW</c>: what is
/// shared with a guest may hold names the guest chose, and a symlink a guest planted where a mount point was must
/// never send an unmount (or anything else) outside the sandbox.
/// </summary>
internal static unsafe class HostMounts
{
    /// <summary>How many rounds <see cref="UnmountAllAtOrBelow"/> makes: stacked mounts come off one per round.</summary>
    private const int UnmountRounds = 16;

    /// <summary>A non-recursive bind mount of <paramref name="source"/> on <paramref name="target"/>.</summary>
    /// <exception cref="ShareException">The kernel refused.</exception>
    public static void Bind(string source, string target) =>
        Check(Libc.Mount(source, target, null, Libc.MS_BIND, null), $"bind {source} on {target}");

    /// <summary>Sets the propagation of the mount at <paramref name="target"/> (MS_PRIVATE, MS_SHARED or MS_SLAVE).</summary>
    public static void SetPropagation(string target, ulong propagation) =>
        Check(Libc.Mount(null, target, null, propagation, null), $"set the propagation of {target}");

    /// <summary>Remounts the bind mount at <paramref name="target"/> with exactly the per-mount flags <paramref name="flags"/> (MS_RDONLY, MS_NODEV, MS_NOSUID…).</summary>
    public static void Remount(string target, ulong flags) =>
        Check(Libc.Mount(null, target, null, Libc.MS_BIND | Libc.MS_REMOUNT | flags, null), $"remount {target}");

    /// <summary>Detaches the mount at <paramref name="path"/> without following a final symlink; false when nothing is mounted there (or the path is gone).</summary>
    /// <exception cref="ShareException">The kernel refused for another reason.</exception>
    public static bool Unmount(string path)
    {
        if (Libc.Umount2(path, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }
        var error = LinuxException.FromLastError($"unmount {path}");
        return error.Errno is Errno.EINVAL or Errno.ENOENT ? false : throw new ShareException(error.Message, error);
    }

    /// <summary>
    /// Detaches every mount at <paramref name="directory"/> or below it, deepest first, until mountinfo lists none
    /// (stacked mounts come off one per round).
    /// </summary>
    /// <exception cref="ShareException">A mount would not go.</exception>
    public static void UnmountAllAtOrBelow(string directory)
    {
        string canonical = Canonical(directory) ?? Path.GetFullPath(directory);
        for (int round = 0; round < UnmountRounds; round++)
        {
            var points = MountTable.MountPointsAtOrBelow(canonical);
            if (points.Count == 0)
            {
                return;
            }
            foreach (string point in points.Distinct(StringComparer.Ordinal).OrderByDescending(p => p.Count(c => c == '/')).ThenByDescending(p => p.Length))
            {
                Unmount(point);
            }
        }
        throw new ShareException($"mounts below {canonical} are still there after {UnmountRounds} rounds of unmounting: {string.Join(", ", MountTable.MountPointsAtOrBelow(canonical))}");
    }

    /// <summary>
    /// <paramref name="path"/> with every symlink resolved (as mountinfo names mount points), or null when it does not
    /// exist. The kernel resolves it: an O_PATH descriptor and its /proc/self/fd link.
    /// </summary>
    public static string? Canonical(string path)
    {
        int fd = Libc.Open(path, Libc.O_PATH | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return null;
        }
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>The S_IFMT bits and mount id of <paramref name="path"/> (a final symlink not followed), or null when it does not exist.</summary>
    public static (int Type, ulong MountId)? Stat(string path)
    {
        Libc.Statx result;
        if (Libc.StatX(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE | Libc.STATX_MNT_ID, &result) != 0)
        {
            var error = LinuxException.FromLastError($"statx {path}");
            return error.Errno is Errno.ENOENT or Errno.ENOTDIR ? null : throw new ShareException(error.Message, error);
        }
        if ((result.Mask & Libc.STATX_MNT_ID) == 0)
        {
            throw new ShareException($"statx {path}: the kernel gives no mount id (Linux 5.8 or later is needed)");
        }
        return (result.Mode & Libc.S_IFMT, result.MountId);
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            var error = LinuxException.FromLastError(what);
            throw new ShareException(error.Message, error);
        }
    }
}
