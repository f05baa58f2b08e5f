using KataAgent.Agent.Interop;
using KataAgent.Linux.Mounts;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Guest;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.SharedFs;

/// <summary>
/// RemoveStaleVirtiofsShareMounts, as Kata's agent does it (kata-containers#6455): every mount below
/// the shared directory (/run/kata-containers/shared/containers/, where the runtime's virtio-fs share
/// shows the host's bind mounts) is looked up afresh with a stat. On virtio-fs that lookup revalidates
/// the entry with virtiofsd; one whose host directory is gone fails revalidation, the guest kernel drops
/// the dentry and detaches the mounts on it, and virtiofsd releases the file descriptors it held for them
/// (the leak this RPC exists for). Nothing is unmounted by name: a stale path no longer resolves, so
/// umount(2) could not reach it anyway. Lookups that fail are logged, never an error.
/// </summary>
public static unsafe class StaleShareMounts
{
    /// <summary>The mount points a call looks at: those strictly below <paramref name="sharedDirectory"/>.</summary>
    internal static IReadOnlyList<string> Candidates(IReadOnlyList<MountTableEntry> mounts, string sharedDirectory = GuestLayout.SharedDirectory) =>
        mounts.Select(m => m.MountPoint)
            .Where(p => p.StartsWith(sharedDirectory, StringComparison.Ordinal) && p.Length > sharedDirectory.Length)
            .Distinct(StringComparer.Ordinal)
            .ToList();

    /// <summary>Revalidates every share mount; returns the ones that are gone from the mount table afterwards.</summary>
    public static IReadOnlyList<string> Revalidate(ILogger logger, string sharedDirectory = GuestLayout.SharedDirectory, string mountinfoPath = "/proc/self/mountinfo")
    {
        var candidates = Candidates(MountTable.Read(mountinfoPath), sharedDirectory);
        foreach (string mountPoint in candidates)
        {
            Libc.Statx result;
            if (Libc.StatX(Libc.AT_FDCWD, mountPoint, 0, Libc.STATX_TYPE, &result) != 0)
            {
                logger.LogInformation("stale share mount {MountPoint}: {Error}", mountPoint, LinuxException.FromLastError($"stat {mountPoint}").Message);
            }
        }
        var remaining = MountTable.Read(mountinfoPath).Select(m => m.MountPoint).ToHashSet(StringComparer.Ordinal);
        var gone = candidates.Where(c => !remaining.Contains(c)).ToList();
        logger.LogInformation("revalidated {Count} share mount(s) below {Directory}; {Gone} gone", candidates.Count, sharedDirectory, gone.Count);
        return gone;
    }
}
