using System.Text.Json.Nodes;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Protocols.Agent;

namespace KataAgent.Bench;

/// <summary>
/// The container used by the benchmarks: a busybox rootfs (as the tests' BusyboxRootfs builds
/// it) and one OCI configuration, given both as Kata's protobuf spec (for the agent) and as a
/// config.json (for crun), so both runtimes set up exactly the same container.
/// </summary>
internal static class BenchRootfs
{
    private const string Busybox = "/bin/busybox";

    private static readonly string[] Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"];
    private static readonly string[] Namespaces = ["pid", "ipc", "uts", "mount"];
    private static readonly string[] MaskedPaths = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"];
    private static readonly string[] ReadonlyPaths = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
    private static readonly string[] Capabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"];
    private static readonly (string Destination, string Type, string Source, string[] Options)[] Mounts =
    [
        ("/proc", "proc", "proc", []),
        ("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        ("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
        ("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        ("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        ("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
    ];

    /// <summary>Creates <paramref name="directory"/>/rootfs: /bin/busybox, a link per applet, the usual directories.</summary>
    public static async Task<string> CreateAsync(string directory)
    {
        if (!File.Exists(Busybox))
        {
            throw new InvalidOperationException($"{Busybox} is missing: install busybox-static (./build.sh does as root)");
        }
        string rootfs = Path.Combine(directory, "rootfs");
        foreach (string name in new[] { "bin", "proc", "sys", "dev", "tmp", "etc", "root", "var" })
        {
            Directory.CreateDirectory(Path.Combine(rootfs, name));
        }
        string busybox = Path.Combine(rootfs, "bin", "busybox");
        File.Copy(Busybox, busybox); // keeps its 0755
        var list = await Cli.Wrap(Busybox).WithArguments("--list").ExecuteBufferedAsync();
        foreach (string applet in list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string link = Path.Combine(rootfs, "bin", applet);
            if (applet != "busybox" && !File.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }
        File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        File.WriteAllText(Path.Combine(rootfs, "etc", "group"), "root:x:0:\n");
        return rootfs;
    }

    /// <summary>The container as the agent receives it.</summary>
    /// <summary>The stdout benchmarks' producer: busybox <c>dd</c> writes <paramref name="bytes"/> of zeros in 1 MiB blocks (one read, one write each; <c>head</c> would copy 4 KiB at a time and measure busybox, not the path).</summary>
    public static string[] BlockProducer(long bytes)
    {
        const long Block = 1024 * 1024;
        if (bytes % Block != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "a whole number of 1 MiB blocks");
        }
        return ["dd", "if=/dev/zero", $"bs={Block}", $"count={bytes / Block}"];
    }

    public static Spec AgentSpec(string rootfs, params string[] args)
    {
        var spec = new Spec
        {
            Version = "1.0.2",
            Root = new Root { Path = rootfs },
            Hostname = "container",
            Process = new Process { Args = { args }, Env = { Env }, Cwd = "/", User = new User(), Capabilities = new LinuxCapabilities(), NoNewPrivileges = true },
            Linux = new KataAgent.Protocols.Agent.Linux { MaskedPaths = { MaskedPaths }, ReadonlyPaths = { ReadonlyPaths } },
        };
        spec.Linux.Namespaces.Add(Namespaces.Select(n => new LinuxNamespace { Type = n }));
        spec.Process.Capabilities.Bounding.Add(Capabilities);
        spec.Process.Capabilities.Effective.Add(Capabilities);
        spec.Process.Capabilities.Permitted.Add(Capabilities);
        foreach (var (destination, type, source, options) in Mounts)
        {
            spec.Mounts.Add(new Mount { Destination = destination, Type = type, Source = source, Options = { options } });
        }
        return spec;
    }

    /// <summary>The same container as an OCI bundle's config.json (what `crun spec` writes, trimmed to the agent's spec).</summary>
    public static string CrunConfig(string rootfs, params string[] args)
    {
        JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
        var config = new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = false,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = Strings(args),
                ["env"] = Strings(Env),
                ["cwd"] = "/",
                ["capabilities"] = new JsonObject { ["bounding"] = Strings(Capabilities), ["effective"] = Strings(Capabilities), ["permitted"] = Strings(Capabilities) },
                ["noNewPrivileges"] = true,
            },
            ["root"] = new JsonObject { ["path"] = rootfs, ["readonly"] = false },
            ["hostname"] = "container",
            ["mounts"] = new JsonArray([.. Mounts.Select(m => (JsonNode?)new JsonObject { ["destination"] = m.Destination, ["type"] = m.Type, ["source"] = m.Source, ["options"] = Strings(m.Options) })]),
            ["linux"] = new JsonObject
            {
                ["namespaces"] = new JsonArray([.. Namespaces.Select(n => (JsonNode?)new JsonObject { ["type"] = n })]),
                ["maskedPaths"] = Strings(MaskedPaths),
                ["readonlyPaths"] = Strings(ReadonlyPaths),
            },
        };
        return config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }
}
