using KataAgent.Image.Config;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Sandboxes;

/// <summary>OCI specs in Kata's protobuf form, shaped as <c>crun spec</c> writes them by default.</summary>
public static class ContainerSpecs
{
    private static readonly string[] DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>
    /// A container running <paramref name="args"/> as root in /, with its own pid, ipc, uts and mount
    /// namespaces, the default capabilities, no_new_privs, the usual masked and read-only paths, and
    /// proc, dev, devpts, shm, mqueue and a read-only sys mounted. <c>Root.Path</c> is "rootfs" (relative
    /// to a bundle); <see cref="Sandbox.CreateContainerAsync"/> points it at the container's disk.
    /// </summary>
    public static Spec Default(IReadOnlyList<string> args, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count == 0)
        {
            throw new ArgumentException("a container needs a command: args is empty", nameof(args));
        }
        var spec = new Spec
        {
            Version = "1.0.2",
            Root = new Root { Path = "rootfs" },
            Hostname = "container",
            Process = new Process
            {
                Terminal = terminal,
                Args = { args },
                Env = { ImageProcessBuilder.DefaultPath, "TERM=xterm" },
                Cwd = "/",
                User = new User { UID = 0, GID = 0 },
                Capabilities = new LinuxCapabilities
                {
                    Bounding = { DefaultCapabilities },
                    Effective = { DefaultCapabilities },
                    Permitted = { DefaultCapabilities },
                },
                NoNewPrivileges = true,
            },
            Linux = new KataAgent.Protocols.Agent.Linux
            {
                Namespaces =
                {
                    new LinuxNamespace { Type = "pid" },
                    new LinuxNamespace { Type = "ipc" },
                    new LinuxNamespace { Type = "uts" },
                    new LinuxNamespace { Type = "mount" },
                },
                MaskedPaths = { "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" },
                ReadonlyPaths = { "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" },
            },
            Mounts =
            {
                new Mount { Destination = "/proc", Type = "proc", Source = "proc" },
                new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = { "nosuid", "strictatime", "mode=755", "size=65536k" } },
                new Mount { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
                new Mount { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
                new Mount { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = { "nosuid", "noexec", "nodev" } },
                new Mount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = { "nosuid", "noexec", "nodev", "ro" } },
            },
        };
        return spec;
    }

    /// <summary><see cref="Default(IReadOnlyList{string}, bool)"/> with <c>Root.Path</c> set to <paramref name="rootPath"/> (a stand-alone agent's rootfs directory).</summary>
    public static Spec Default(string rootPath, IReadOnlyList<string> args, bool terminal = false)
    {
        var spec = Default(args, terminal);
        spec.Root.Path = rootPath;
        return spec;
    }
    /// <summary>
    /// Puts an image's process into <paramref name="spec"/> (changed in place): args, environment, working directory,
    /// uid, gid and additional gids as <paramref name="process"/> has them. As docker does, a terminal process whose
    /// environment has no TERM gets <c>TERM=xterm</c>.
    /// </summary>
    public static Spec ApplyImageProcess(Spec spec, ImageProcess process)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(process);
        if (process.Args.Count == 0)
        {
            throw new ArgumentException("a container needs a command: the image's process has no args", nameof(process));
        }
        spec.Process ??= new Process();
        spec.Process.Args.Clear();
        spec.Process.Args.Add(process.Args);
        spec.Process.Env.Clear();
        spec.Process.Env.Add(process.Env);
        if (spec.Process.Terminal && !process.Env.Any(e => e.StartsWith("TERM=", StringComparison.Ordinal)))
        {
            spec.Process.Env.Add("TERM=xterm");
        }
        spec.Process.Cwd = process.Cwd;
        spec.Process.User = new User { UID = process.Uid, GID = process.Gid };
        spec.Process.User.AdditionalGids.Add(process.AdditionalGids);
        return spec;
    }
}
