using KataAgent.Agent.Interop;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Agent.Guest;

/// <summary>
/// PID 1 duties before the server starts: the kernel gives /init nothing but the initramfs, so
/// mount the API filesystems (proc first: everything else reads it), devtmpfs (the Debian cloud
/// kernel does not mount it), devpts, shm, run, tmp and cgroup2, then load the kernel modules the
/// image lists, in dependency order, with finit_module. Failures are reported and the agent goes
/// on: a missing optional module must not cost the guest its agent.
/// </summary>
public static class GuestInit
{
    private const ulong NoSuidNoDevNoExec = Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC;

    public static bool IsPid1 => Environment.ProcessId == 1;

    /// <summary>Mounts and modules; returns what went wrong (to log once logging exists).</summary>
    public static List<string> Prepare()
    {
        BootTimeline.Mark("main");
        var problems = new List<string>();
        LeaveInitramfsRoot(problems);
        Mount(problems, "proc", "/proc", "proc", NoSuidNoDevNoExec, null);
        Mount(problems, "sysfs", "/sys", "sysfs", NoSuidNoDevNoExec, null);
        Mount(problems, "devtmpfs", "/dev", "devtmpfs", Libc.MS_NOSUID, "mode=0755");
        Mount(problems, "devpts", "/dev/pts", "devpts", Libc.MS_NOSUID | Libc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        Mount(problems, "shm", "/dev/shm", "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=1777");
        Mount(problems, "tmpfs", "/run", "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=0755");
        Mount(problems, "tmpfs", "/tmp", "tmpfs", Libc.MS_NOSUID | Libc.MS_NODEV, "mode=1777");
        Mount(problems, "cgroup2", "/sys/fs/cgroup", "cgroup2", NoSuidNoDevNoExec, "nsdelegate");
        foreach (var (link, target) in new[] { ("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"), ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2") })
        {
            if (Libc.FileType(link) is null)
            {
                Libc.Symlink(target, link);
            }
        }
        BootTimeline.Mark("mounts");
        LoadModules(problems);
        BootTimeline.Mark("modules");
        BringUpLoopback(problems);
        BootTimeline.Mark("loopback");
        Environment.SetEnvironmentVariable("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        return problems;
    }

    /// <summary>
    /// Never returns: flush, unmount what is left on block devices (a clean journal for the next
    /// user of the disk image), flush again, then power the VM off (PID 1 must not exit: that
    /// panics the kernel).
    /// </summary>
    public static void PowerOff()
    {
        AgentLibc.Sync();
        UnmountBlockFilesystems();
        AgentLibc.Sync();
        AgentLibc.Reboot(AgentLibc.RB_POWER_OFF);
        while (true)
        {
            Thread.Sleep(Timeout.Infinite);
        }
    }

    /// <summary>Every mount whose source is a device node, newest first; a busy one is detached.</summary>
    private static void UnmountBlockFilesystems()
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/mounts");
        }
        catch (IOException)
        {
            return;
        }
        foreach (string line in lines.Reverse())
        {
            string[] fields = line.Split(' ');
            if (fields.Length < 2 || !fields[0].StartsWith("/dev/", StringComparison.Ordinal) || fields[1] == "/")
            {
                continue;
            }
            // /proc/self/mounts escapes spaces and the like as octal (\040).
            string target = System.Text.RegularExpressions.Regex.Unescape(fields[1]);
            if (Libc.Umount2(target, 0) != 0)
            {
                Libc.Umount2(target, Libc.MNT_DETACH);
            }
        }
    }

    /// <summary>/proc/self/mounts writes space, tab, newline and backslash as octal escapes (\\040).</summary>
    private static string UnescapeMountField(string field)
    {
        var text = new System.Text.StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && field[i + 1] is >= '0' and <= '7' && field[i + 2] is >= '0' and <= '7' && field[i + 3] is >= '0' and <= '7')
            {
                text.Append((char)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// pivot_root(2) refuses to move a mount namespace's root mount (EINVAL), and in an initramfs the
    /// root PID 1 starts on is that mount: every container's pivot_root would fail. So, as switch_root
    /// does, bind the initramfs onto a directory of itself, move that bind onto / and chroot into it.
    /// Nothing is copied; from here on the root is a mount with a parent, which pivot_root accepts.
    /// </summary>
    private static void LeaveInitramfsRoot(List<string> problems)
    {
        const string bind = "/.initramfs";
        Directory.CreateDirectory(bind);
        if (Libc.Mount("/", bind, null, Libc.MS_BIND | Libc.MS_REC, null) != 0)
        {
            problems.Add(LinuxException.FromLastError($"bind / on {bind}").Message);
            return;
        }
        if (Libc.Chdir(bind) != 0 || Libc.Mount(bind, "/", null, Libc.MS_MOVE, null) != 0 || Libc.Chroot(".") != 0)
        {
            problems.Add(LinuxException.FromLastError("move the initramfs bind onto / and chroot into it").Message);
        }
        Libc.Chdir("/");
    }

    // A pod's containers share the guest's network namespace and, as Kubernetes promises, reach each other on
    // 127.0.0.1; the kernel makes lo down and nothing else in the guest brings it up.
    private static void BringUpLoopback(List<string> problems)
    {
        try
        {
            using var rtnl = Rtnetlink.Open();
            if (rtnl.FindLink("lo") is { } lo)
            {
                rtnl.SetLinkUp(lo.Index, true);
            }
            else
            {
                problems.Add("no lo link to bring up");
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            problems.Add($"bringing lo up: {e.Message}");
        }
    }

    private static void Mount(List<string> problems, string source, string target, string type, ulong flags, string? data)
    {
        try
        {
            Directory.CreateDirectory(target);
            if (Libc.Mount(source, target, type, flags, data) != 0)
            {
                var error = LinuxException.FromLastError($"mount {type} on {target}");
                if (error.Errno != Errno.EBUSY)
                {
                    problems.Add(error.Message);
                }
            }
        }
        catch (IOException e)
        {
            problems.Add($"mount {type} on {target}: {e.Message}");
        }
    }

    /// <summary>
    /// The image's module list (see rootfs/README.md): absolute paths, one per line, load order. The modules the agent
    /// channel needs load here; the others (<see cref="DeferredModules.DeferredNames"/>) go into
    /// <see cref="DeferredModules.Boot"/>, which loads them once the server listens. A module the kernel has taken is
    /// deleted from the image: the kernel keeps its own copy, and the initramfs is tmpfs, so the file would hold guest
    /// memory (1.6 MiB for the default set) for nothing. The on-demand modules are not in the list and stay; a module
    /// that failed to load stays too, for whoever looks into why.
    /// </summary>
    private static void LoadModules(List<string> problems)
    {
        string? list = ModuleListPath();
        if (list is null)
        {
            return;
        }
        var deferred = new List<(string Name, string Path)>();
        foreach (string line in File.ReadAllLines(list))
        {
            string path = line.Trim();
            if (path.Length == 0 || path.StartsWith('#'))
            {
                continue;
            }
            string name = ModuleName(path);
            if (DeferredModules.IsDeferred(name))
            {
                deferred.Add((name, path));
            }
            else if (LoadModuleFile(path, problems.Add) is { } problem)
            {
                problems.Add(problem);
            }
        }
        DeferredModules.Boot = new DeferredModules(deferred, LoadModuleFile);
    }

    /// <summary>finit_module of the file at <paramref name="path"/>, which is deleted once loaded (a file that cannot
    /// be deleted is told to <paramref name="warn"/>); null, or why the module did not load.</summary>
    internal static string? LoadModuleFile(string path, Action<string> warn)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return LinuxException.FromLastError($"open module {path}").Message;
        }
        try
        {
            if (AgentLibc.FinitModule(fd) != 0)
            {
                var error = LinuxException.FromLastError($"finit_module {path}");
                if (error.Errno != Errno.EEXIST)
                {
                    return error.Message;
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn($"delete the loaded module {path}: {e.Message}");
        }
        return null;
    }

    /// <summary>"…/virtio-rng.ko" → "virtio_rng", as the kernel names the module.</summary>
    internal static string ModuleName(string path)
    {
        string file = Path.GetFileName(path);
        int dot = file.IndexOf(".ko", StringComparison.Ordinal);
        return (dot > 0 ? file[..dot] : file).Replace('-', '_');
    }

    private static string? ModuleListPath()
    {
        const string imageInfo = "/etc/kataagent-image";
        if (File.Exists(imageInfo))
        {
            foreach (string line in File.ReadAllLines(imageInfo))
            {
                if (line.StartsWith("modules_file=", StringComparison.Ordinal))
                {
                    return line["modules_file=".Length..];
                }
            }
        }
        return null;
    }
}
