using KataAgent.Host.SharedFs;
using KataAgent.Linux.Interop;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>
/// The copy-on-write view <c>kactl run</c> gives a container of a shared rootfs: an overlayfs in the sandbox's
/// directory (<c>rootfs-overlay/merged</c>) with the user's directory as its read-only lower layer and
/// <c>upper/</c> and <c>work/</c> beside it. The container writes into <c>upper/</c>; <c>--rootfs DIR</c> is never
/// written. It lives and dies with the sandbox's directory: deleting it (<see cref="StateDirectory.Delete"/>, as every
/// teardown does) unmounts it first.
/// </summary>
public static class RootfsOverlay
{
    /// <summary>The overlay's directory inside a sandbox's directory.</summary>
    public const string DirectoryName = "rootfs-overlay";

    /// <summary>Mounts the overlay of <paramref name="rootfsDirectory"/> in <paramref name="sandboxDirectory"/> and returns its merged directory.</summary>
    /// <exception cref="ShareException">The overlay could not be mounted (the message says why).</exception>
    public static string Mount(string rootfsDirectory, string sandboxDirectory)
    {
        string lower = Path.GetFullPath(rootfsDirectory);
        string overlay = Path.Combine(sandboxDirectory, DirectoryName);
        string upper = Path.Combine(overlay, "upper");
        string work = Path.Combine(overlay, "work");
        string merged = Path.Combine(overlay, "merged");
        foreach (string path in (string[])[lower, upper, work])
        {
            // overlayfs' option syntax has no escape for these.
            if (path.IndexOfAny([',', ':', '\\']) >= 0)
            {
                throw new ShareException($"cannot overlay {path}: overlayfs cannot take a path with ',', ':' or '\\' (use another --rootfs or {RunDirectory.Variable})");
            }
        }
        foreach (string directory in (string[])[upper, work, merged])
        {
            Directory.CreateDirectory(directory);
        }
        if (Libc.Mount("overlay", merged, "overlay", Libc.MS_NODEV | Libc.MS_NOSUID, $"lowerdir={lower},upperdir={upper},workdir={work}") != 0)
        {
            var error = LinuxException.FromLastError($"mount an overlay of {lower} on {merged}");
            throw new ShareException($"{error.Message} (the container's copy-on-write view of its rootfs; --rootfs-mode blk needs none)", error);
        }
        return merged;
    }
}
