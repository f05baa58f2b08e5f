using KataAgent.Protocols.Agent;

namespace KataAgent.Tests.Infrastructure;

/// <summary>OCI specs as `crun spec` writes them by default, in Kata's protobuf form.</summary>
public static class OciSpecs
{
    public static Spec Default(string rootfs, params string[] args)
    {
        var spec = new Spec
        {
            Version = "1.0.2",
            Root = new Root { Path = rootfs },
            Hostname = "container",
            Process = new Process
            {
                Args = { args },
                Env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" },
                Cwd = "/",
                User = new User { UID = 0, GID = 0 },
                Capabilities = new LinuxCapabilities(),
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
        };
        string[] defaultCaps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"];
        spec.Process.Capabilities.Bounding.Add(defaultCaps);
        spec.Process.Capabilities.Effective.Add(defaultCaps);
        spec.Process.Capabilities.Permitted.Add(defaultCaps);
        spec.Mounts.Add(new Mount { Destination = "/proc", Type = "proc", Source = "proc" });
        spec.Mounts.Add(new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = { "nosuid", "strictatime", "mode=755", "size=65536k" } });
        spec.Mounts.Add(new Mount { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } });
        spec.Mounts.Add(new Mount { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } });
        spec.Mounts.Add(new Mount { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = { "nosuid", "noexec", "nodev" } });
        spec.Mounts.Add(new Mount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = { "nosuid", "noexec", "nodev", "ro" } });
        return spec;
    }
}
