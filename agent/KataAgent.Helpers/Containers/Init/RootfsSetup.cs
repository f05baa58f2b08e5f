using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// Builds the container's root in runc's order: stop propagation to the host, bind the rootfs on
/// itself, OCI mounts (destinations resolved inside the rootfs), devices, /dev links,
/// pivot_root, masked and read-only paths, read-only root, sysctls.
/// </summary>
internal static class RootfsSetup
{
    private static readonly (string Name, long Major, long Minor)[] DefaultDevices =
    [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ];

    public static void Prepare(InitConfig config)
    {
        string rootfs = config.Rootfs!;
        // Device and directory modes as given, not as the agent's umask would cut them.
        Libc.Umask(0);
        ulong propagation = config.RootPropagation == 0 ? Libc.MS_SLAVE | Libc.MS_REC : config.RootPropagation;
        Check(Libc.Mount(null, "/", null, propagation, null), "make / non-propagating");
        MakeParentMountPrivate(rootfs);
        Check(Libc.Mount(rootfs, rootfs, null, Libc.MS_BIND | Libc.MS_REC, null), $"bind the rootfs {rootfs} on itself");

        foreach (var mount in config.Mounts)
        {
            MountOne(rootfs, mount);
        }
        CreateDevices(rootfs, config.Devices);
        CreateDevLinks(rootfs);

        Libc.Check(Libc.Chdir(rootfs), $"chdir {rootfs}");
        Check(Libc.PivotRoot(".", "."), "pivot_root");
        // The old root is now stacked on "."; as a slave its detach cannot unmount anything in the
        // host's namespace through a shared peer (as runc and Kata's rustjail do).
        Check(Libc.Mount(null, ".", null, Libc.MS_SLAVE | Libc.MS_REC, null), "make the old root a slave");
        Check(Libc.Umount2(".", Libc.MNT_DETACH), "detach the old root");
        Libc.Check(Libc.Chdir("/"), "chdir /");
        // Only now can a shared root propagation be applied without reaching the host's mounts.
        if ((propagation & (Libc.MS_SHARED | Libc.MS_SLAVE | Libc.MS_UNBINDABLE)) != 0)
        {
            Check(Libc.Mount(null, "/", null, propagation, null), "apply the root propagation");
        }

        // Before masked and read-only paths: the usual spec makes /proc/sys read-only.
        foreach (var (key, value) in config.Sysctls)
        {
            string file = "/proc/sys/" + key.Replace('.', '/');
            try
            {
                File.WriteAllText(file, value);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InitException($"sysctl {key}={value}: {e.Message}");
            }
        }
        foreach (string path in config.MaskedPaths)
        {
            Mask(path);
        }
        foreach (string path in config.ReadonlyPaths)
        {
            MakeReadonly(path);
        }
        if (config.RootfsReadonly)
        {
            Check(Libc.Mount(null, "/", null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY, null), "remount / read-only");
        }
    }

    /// <summary>
    /// Makes the mount holding the rootfs private if it is shared (runc's rootfsParentMountPrivate):
    /// pivot_root refuses a shared parent, and binding the rootfs under a shared mount would
    /// propagate that bind, and every mount made on it, to the host.
    /// </summary>
    private static void MakeParentMountPrivate(string rootfs)
    {
        string parent = "/";
        bool shared = false;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL-FIELDS...] - TYPE SOURCE SUPER-OPTIONS
            string[] fields = line.Split(' ');
            string point = UnescapeMountInfo(fields[4]);
            bool holds = point == "/" || rootfs == point || rootfs.StartsWith(point + "/", StringComparison.Ordinal);
            if (holds && point.Length >= parent.Length)
            {
                parent = point;
                shared = fields.Skip(6).TakeWhile(f => f != "-").Any(f => f.StartsWith("shared:", StringComparison.Ordinal));
            }
        }
        if (shared)
        {
            Check(Libc.Mount(null, parent, null, Libc.MS_PRIVATE, null), $"make {parent}, the mount holding the rootfs, private");
        }
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \ooo.</summary>
    private static string UnescapeMountInfo(string field) =>
        field.Contains('\\')
            ? System.Text.RegularExpressions.Regex.Replace(field, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString())
            : field;

    private static void MountOne(string rootfs, MountConfig mount)
    {
        string destination = SecurePath.Join(rootfs, mount.Destination);
        bool sourceIsFile = mount.IsBind && mount.Source is not null && Libc.FileType(mount.Source) is { } type && type != Libc.S_IFDIR;
        if (sourceIsFile)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            if (!File.Exists(destination))
            {
                File.WriteAllBytes(destination, []);
            }
        }
        else
        {
            Directory.CreateDirectory(destination);
        }

        string what = $"mount {mount.Type ?? "bind"} {mount.Source} on {mount.Destination}";
        if (mount.IsBind)
        {
            Check(Libc.Mount(mount.Source, destination, null, Libc.MS_BIND | (mount.Flags & Libc.MS_REC), null), what);
            ulong remountFlags = mount.Flags & ~(Libc.MS_BIND | Libc.MS_REC | Libc.MS_REMOUNT);
            if (remountFlags != 0)
            {
                Check(Libc.Mount(null, destination, null, Libc.MS_BIND | Libc.MS_REMOUNT | remountFlags, null), $"{what} (remount with its options)");
            }
        }
        else
        {
            string? fstype = mount.Type == "cgroup" ? "cgroup2" : mount.Type;
            Check(Libc.Mount(mount.Source ?? fstype, destination, fstype, mount.Flags, mount.Data), what);
        }
        if (mount.Propagation != 0)
        {
            Check(Libc.Mount(null, destination, null, mount.Propagation, null), $"{what} (propagation)");
        }
    }

    private static void CreateDevices(string rootfs, List<DeviceConfig> devices)
    {
        foreach (var (name, major, minor) in DefaultDevices)
        {
            CreateDevice(rootfs, new DeviceConfig { Path = "/dev/" + name, Type = 'c', Major = major, Minor = minor, FileMode = 0x1B6 });
        }
        foreach (var device in devices)
        {
            CreateDevice(rootfs, device);
        }
    }

    private static void CreateDevice(string rootfs, DeviceConfig device)
    {
        string path = SecurePath.JoinParent(rootfs, device.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (Libc.FileType(path) is not null)
        {
            return;
        }
        uint kind = device.Type switch
        {
            'c' or 'u' => (uint)Libc.S_IFCHR,
            'b' => (uint)Libc.S_IFBLK,
            'p' => (uint)Libc.S_IFIFO,
            _ => throw new InitException($"device {device.Path}: unknown type '{device.Type}'"),
        };
        uint mode = device.FileMode == 0 ? 0x1B6 : device.FileMode & 0xFFF;
        if (Libc.Mknod(path, kind | mode, Libc.MakeDev(device.Major, device.Minor)) != 0)
        {
            throw LinuxException.FromLastError($"mknod {device.Path}");
        }
        Libc.Chown(path, device.Uid, device.Gid);
    }

    private static void CreateDevLinks(string rootfs)
    {
        (string Link, string Target)[] links = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")];
        foreach (var (link, target) in links)
        {
            string path = SecurePath.JoinParent(rootfs, "/dev/" + link);
            if (Libc.FileType(path) is null)
            {
                Check(Libc.Symlink(target, path), $"symlink /dev/{link}");
            }
        }
        string ptmx = SecurePath.JoinParent(rootfs, "/dev/ptmx");
        if (Directory.Exists(SecurePath.Join(rootfs, "/dev/pts")) && Libc.FileType(ptmx) is null)
        {
            Check(Libc.Symlink("pts/ptmx", ptmx), "symlink /dev/ptmx");
        }
    }

    private static void Mask(string path)
    {
        int? type = Libc.FileType(path);
        if (type is null)
        {
            return;
        }
        if (type == Libc.S_IFDIR)
        {
            Check(Libc.Mount("tmpfs", path, "tmpfs", Libc.MS_RDONLY, null), $"mask {path}");
        }
        else
        {
            Check(Libc.Mount("/dev/null", path, null, Libc.MS_BIND, null), $"mask {path}");
        }
    }

    private static void MakeReadonly(string path)
    {
        if (Libc.FileType(path) is null)
        {
            return;
        }
        Check(Libc.Mount(path, path, null, Libc.MS_BIND | Libc.MS_REC, null), $"bind {path} read-only");
        Check(Libc.Mount(null, path, null, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY | Libc.MS_REC, null), $"remount {path} read-only");
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw LinuxException.FromLastError(what);
        }
    }
}
