using KataAgent.Linux.Interop;
using KataAgent.Protocols.Containerd.Types;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// Mounts the snapshotter's mounts for a task (CreateTaskRequest.rootfs: overlay, bind, …) onto
/// <c>&lt;bundle&gt;/rootfs</c>, in order, as containerd's <c>mount.All</c> does, and takes them off again.
/// </summary>
internal static class RootfsMounter
{
    private static readonly Dictionary<string, (ulong Set, ulong Clear)> Flags = new(StringComparer.Ordinal)
    {
        ["ro"] = (Libc.MS_RDONLY, 0),
        ["rw"] = (0, Libc.MS_RDONLY),
        ["nosuid"] = (Libc.MS_NOSUID, 0),
        ["suid"] = (0, Libc.MS_NOSUID),
        ["nodev"] = (Libc.MS_NODEV, 0),
        ["dev"] = (0, Libc.MS_NODEV),
        ["noexec"] = (Libc.MS_NOEXEC, 0),
        ["exec"] = (0, Libc.MS_NOEXEC),
        ["sync"] = (Libc.MS_SYNCHRONOUS, 0),
        ["async"] = (0, Libc.MS_SYNCHRONOUS),
        ["dirsync"] = (Libc.MS_DIRSYNC, 0),
        ["noatime"] = (Libc.MS_NOATIME, 0),
        ["atime"] = (0, Libc.MS_NOATIME),
        ["nodiratime"] = (Libc.MS_NODIRATIME, 0),
        ["diratime"] = (0, Libc.MS_NODIRATIME),
        ["relatime"] = (Libc.MS_RELATIME, 0),
        ["norelatime"] = (0, Libc.MS_RELATIME),
        ["strictatime"] = (Libc.MS_STRICTATIME, 0),
        ["bind"] = (Libc.MS_BIND, 0),
        ["rbind"] = (Libc.MS_BIND | Libc.MS_REC, 0),
        ["defaults"] = (0, 0),
    };

    /// <summary>The flags and the data string for one mount's options (what mount(8) makes of <c>-o</c>).</summary>
    public static (ulong Flags, string Data) ParseOptions(IEnumerable<string> options)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (string option in options)
        {
            if (Flags.TryGetValue(option, out var flag))
            {
                flags = (flags | flag.Set) & ~flag.Clear;
            }
            else
            {
                data.Add(option);
            }
        }
        return (flags, string.Join(',', data));
    }

    /// <summary>Mounts <paramref name="mounts"/> onto <paramref name="target"/> in order; on a failure the ones made are taken off.</summary>
    /// <exception cref="TaskException">A mount has no type or failed (InvalidArgument naming it).</exception>
    public static void MountAll(IReadOnlyList<Mount> mounts, string target)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        Directory.CreateDirectory(target);
        for (int i = 0; i < mounts.Count; i++)
        {
            var mount = mounts[i];
            try
            {
                MountOne(mount, target, $"rootfs[{i}]");
            }
            catch
            {
                UnmountAll(target);
                throw;
            }
        }
    }

    /// <summary>Takes every mount off <paramref name="target"/> (lazily, so a busy one goes when let go of); nothing mounted is fine.</summary>
    public static void UnmountAll(string target)
    {
        for (int i = 0; i < 64; i++)
        {
            if (Libc.Umount2(target, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) == 0)
            {
                continue;
            }
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno is Errno.EINVAL or Errno.ENOENT)
            {
                return; // not (or no longer) a mount point
            }
            throw new LinuxException($"umount2 {target}", errno);
        }
    }

    private static void MountOne(Mount mount, string target, string field)
    {
        if (mount.Type.Length == 0 && !mount.Options.Contains("bind") && !mount.Options.Contains("rbind"))
        {
            throw TaskException.InvalidArgument($"{field}.type", "is empty");
        }
        var (flags, data) = ParseOptions(mount.Options);
        bool bind = (flags & Libc.MS_BIND) != 0 || mount.Type == "bind";
        if (bind)
        {
            flags |= Libc.MS_BIND;
            Check(Libc.Mount(mount.Source, target, null, flags & (Libc.MS_BIND | Libc.MS_REC), null), field, mount, target);
            if ((flags & ~(Libc.MS_BIND | Libc.MS_REC)) != 0)
            {
                // A bind ignores every other flag: they take a remount.
                Check(Libc.Mount(null, target, null, Libc.MS_REMOUNT | Libc.MS_BIND | (flags & ~Libc.MS_REC), null), field, mount, target);
            }
            return;
        }
        Check(Libc.Mount(mount.Source, target, mount.Type, flags, data.Length == 0 ? null : data), field, mount, target);
    }

    private static void Check(int result, string field, Mount mount, string target)
    {
        if (result != 0)
        {
            var error = LinuxException.FromLastError($"mount {mount.Type} {mount.Source} on {target}");
            throw new TaskException(TaskErrorKind.InvalidArgument, $"{field}: {error.Message}", error);
        }
    }
}
