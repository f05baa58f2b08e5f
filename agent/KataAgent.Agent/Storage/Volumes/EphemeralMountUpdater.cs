using KataAgent.Agent.Containers.Spec;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Mounts;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Storage.Volumes;

/// <summary>
/// UpdateEphemeralMounts: Kata's runtime resizes the tmpfs behind a memory emptyDir when the sandbox's
/// memory changes, sending the storage again with options such as <c>remount,size=2048M</c> (and
/// <c>fsgid=N</c>, which Kata's agent drops here because the group was set at creation). Only
/// <c>ephemeral</c> storages can be updated, and only one that is mounted as a tmpfs: the update is
/// always a remount, never a new tmpfs stacked over the old one (which would hide its files). A remount
/// replaces the mount's flags, so the flags it has (nosuid, nodev, noexec, ro …) are kept unless an option
/// changes them. Every storage is checked before the first remount.
/// </summary>
public static unsafe class EphemeralMountUpdater
{
    private const string FsGidOption = "fsgid=";

    /// <summary>Per-mount flags statfs reports (ST_* have the MS_* values) and a remount would otherwise reset.</summary>
    private const ulong KeptFlags = Libc.MS_RDONLY | Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC
        | Libc.MS_SYNCHRONOUS | Libc.MS_NOATIME | Libc.MS_NODIRATIME | Libc.MS_RELATIME | Libc.MS_NOSYMFOLLOW;

    /// <summary>Options that clear a flag (MountOptions.Parse can only tell which flags end up set).</summary>
    private static readonly Dictionary<string, ulong> Clearing = new()
    {
        ["rw"] = Libc.MS_RDONLY,
        ["suid"] = Libc.MS_NOSUID,
        ["dev"] = Libc.MS_NODEV,
        ["exec"] = Libc.MS_NOEXEC,
        ["async"] = Libc.MS_SYNCHRONOUS,
        ["atime"] = Libc.MS_NOATIME,
        ["diratime"] = Libc.MS_NODIRATIME,
        ["norelatime"] = Libc.MS_RELATIME,
        ["symfollow"] = Libc.MS_NOSYMFOLLOW,
    };

    /// <summary>Remounts every storage's tmpfs with its new options; returns how many were remounted.</summary>
    public static int Update(IReadOnlyList<Protocols.Agent.Storage> storages, ILogger logger, string mountinfoPath = "/proc/self/mountinfo", string allowedRoot = VolumePath.AllowedRoot)
    {
        var plans = new List<(string MountPoint, List<string> Options, string At)>();
        for (int i = 0; i < storages.Count; i++)
        {
            var storage = storages[i];
            string at = $"storages[{i}]";
            if (storage.Driver != StorageDrivers.Ephemeral)
            {
                throw AgentException.InvalidArgument($"{at}.driver", $"'{storage.Driver}': only {StorageDrivers.Ephemeral} storages can be updated");
            }
            if (storage.Fstype is not ("" or "tmpfs"))
            {
                throw AgentException.InvalidArgument($"{at}.fstype", $"'{storage.Fstype}': ephemeral storage is tmpfs");
            }
            string mountPoint = VolumePath.Validate(storage.MountPoint, $"{at}.mount_point", allowedRoot);
            var options = storage.Options.Where(o => !o.StartsWith(FsGidOption, StringComparison.Ordinal) && o != "remount").ToList();
            var (flags, propagation, _) = MountOptions.Parse(options);
            if ((flags & (Libc.MS_BIND | Libc.MS_MOVE)) != 0 || propagation != 0)
            {
                throw AgentException.InvalidArgument($"{at}.options", $"'{string.Join(',', storage.Options)}': bind, move and propagation options do not apply to resizing a tmpfs");
            }
            plans.Add((mountPoint, options, at));
        }

        var mounts = MountTable.Read(mountinfoPath);
        foreach (var (mountPoint, _, at) in plans)
        {
            var mount = MountTable.FindMountPoint(mounts, mountPoint);
            if (mount is null || mount.FilesystemType != "tmpfs")
            {
                throw AgentException.FailedPrecondition($"{at}.mount_point", mount is null
                    ? $"nothing is mounted on {mountPoint}; an ephemeral storage is updated after CreateContainer mounted it"
                    : $"{mountPoint} holds {mount.FilesystemType}, not a tmpfs");
            }
        }

        int remounted = 0;
        foreach (var (mountPoint, options, at) in plans)
        {
            if (options.Count == 0)
            {
                continue;
            }
            AgentLibc.StatFs stat;
            Libc.Check(AgentLibc.Statfs(mountPoint, &stat), $"statfs {mountPoint}");
            ulong flags = (ulong)stat.Flags & KeptFlags;
            var data = new List<string>();
            foreach (string option in options)
            {
                if (Clearing.TryGetValue(option, out ulong cleared))
                {
                    flags &= ~cleared;
                    continue;
                }
                var (set, _, rest) = MountOptions.Parse([option]);
                flags |= set;
                if (rest is not null)
                {
                    data.Add(rest);
                }
            }
            string? text = data.Count == 0 ? null : string.Join(',', data);
            if (Libc.Mount("tmpfs", mountPoint, "tmpfs", flags | Libc.MS_REMOUNT, text) != 0)
            {
                var error = LinuxException.FromLastError($"remount tmpfs on {mountPoint} ({text})");
                throw error.Errno == Errno.EINVAL
                    ? AgentException.InvalidArgument($"{at}.options", $"{error.Message}: a size below what the tmpfs holds, or an option tmpfs does not take")
                    : error;
            }
            logger.LogInformation("remounted the tmpfs on {MountPoint} with {Options}", mountPoint, string.Join(',', options));
            remounted++;
        }
        return remounted;
    }
}
