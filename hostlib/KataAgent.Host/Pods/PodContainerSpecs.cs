using System.Globalization;
using System.Text;
using KataAgent.Host.Images;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols.Agent;

namespace KataAgent.Host.Pods;

/// <summary>
/// A pod container's OCI spec from its <see cref="PodContainerSpec"/>, as kubelet and a CRI runtime would make it: the
/// process (command and args over the image's, env with Kubernetes' <c>$(VAR)</c> expansion, workingDir, user),
/// capabilities added and dropped, a read-only root, the pod's hostname, hostPath binds, and the cgroup limits from
/// resources (limits as CFS quota and memory.max, the CPU request as shares, as kubelet converts them).
/// </summary>
internal static class PodContainerSpecs
{
    /// <summary>kubelet's CFS period: 100 ms.</summary>
    public const ulong CfsPeriodMicroseconds = 100_000;

    /// <summary>Docker's and containerd's default set, which Kubernetes' capabilities.add and .drop start from.</summary>
    private static readonly string[] DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    /// <summary>What the image's process is changed by: entrypoint, args, env, user and working directory.</summary>
    public static ImageProcessOverrides Overrides(PodContainerSpec container)
    {
        var env = ExpandedEnv(container);
        var (command, args) = ExpandedCommand(container, env);
        return new ImageProcessOverrides
        {
            Entrypoint = command,
            Args = args,
            Env = [.. env.Select(e => $"{e.Name}={e.Value}")],
            User = container.SecurityContext?.RunAsUser is { } uid ? uid.ToString(CultureInfo.InvariantCulture) : null,
            WorkingDirectory = container.WorkingDir,
        };
    }

    /// <summary>
    /// The spec of a container given as a rootfs directory (no image config): its command and args are all the
    /// process has, so one of them must be there.
    /// </summary>
    public static Spec ForRootfs(PodContainerSpec container, string field)
    {
        var env = ExpandedEnv(container);
        var (command, args) = ExpandedCommand(container, env);
        var argv = (command ?? []).Concat(args ?? []).ToList();
        if (argv.Count == 0)
        {
            throw new PodManifestException($"{field}.command", "a container with a rootfs directory has no image to take a command from: command or args is needed");
        }
        var spec = ContainerSpecs.Default(argv, container.Tty);
        foreach (var (name, value) in env)
        {
            spec.Process.Env.Add($"{name}={value}");
        }
        if (container.WorkingDir is { } cwd)
        {
            spec.Process.Cwd = cwd;
        }
        if (container.SecurityContext?.RunAsUser is { } uid)
        {
            spec.Process.User.UID = checked((uint)uid);
        }
        return spec;
    }

    /// <summary>Everything the pod adds on top of the process: hostname, group, capabilities, read-only root, hostPath binds, limits.</summary>
    public static void Apply(Spec spec, PodSpec pod, PodContainerSpec container, string field)
    {
        spec.Hostname = pod.GuestHostname;
        spec.Process.Terminal = container.Tty;
        if (container.SecurityContext is { } security)
        {
            if (security.RunAsGroup is { } gid)
            {
                spec.Process.User.GID = checked((uint)gid);
            }
            ApplyCapabilities(spec, security, $"{field}.securityContext.capabilities");
            spec.Root ??= new Root();
            spec.Root.Readonly = security.ReadOnlyRootFilesystem;
        }
        for (int i = 0; i < container.VolumeMounts.Count; i++)
        {
            var mount = container.VolumeMounts[i];
            if (pod.Volumes.FirstOrDefault(v => v.Name == mount.Name)?.HostPath is { } hostPath)
            {
                string source = mount.SubPath.Length == 0 ? hostPath.Path : Path.Combine(hostPath.Path, mount.SubPath);
                spec.Mounts.Add(new Mount
                {
                    Destination = mount.MountPath,
                    Source = source,
                    Type = "bind",
                    Options = { "rbind", mount.ReadOnly ? "ro" : "rw" },
                });
            }
        }
        spec.Linux ??= new KataAgent.Protocols.Agent.Linux();
        spec.Linux.Resources = Resources(container.Resources, forUpdate: false);
        // As containerd gives a Kubernetes container on cgroup v2: a cgroup namespace of its own, and its cgroup
        // (with its limits) read-only at /sys/fs/cgroup.
        if (!spec.Linux.Namespaces.Any(n => n.Type == "cgroup"))
        {
            spec.Linux.Namespaces.Add(new LinuxNamespace { Type = "cgroup" });
        }
        if (!spec.Mounts.Any(m => m.Destination == "/sys/fs/cgroup"))
        {
            spec.Mounts.Add(new Mount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = { "nosuid", "noexec", "nodev", "relatime", "ro" } });
        }
    }

    /// <summary>
    /// A container's cgroup resources: limits.cpu as a CFS quota over kubelet's 100 ms period, requests.cpu as
    /// shares (milliCPU × 1024 / 1000, at least 2, as kubelet converts it), limits.memory as memory.max. For an
    /// update (<paramref name="forUpdate"/>) a limit that is gone is written as -1 ("max"), so that lifting it takes
    /// effect; a new container simply has none.
    /// </summary>
    public static LinuxResources Resources(PodResources resources, bool forUpdate)
    {
        var result = new LinuxResources { CPU = new LinuxCPU(), Memory = new LinuxMemory() };
        if (resources.CpuLimitMilli is { } limit)
        {
            result.CPU.Quota = limit * (long)CfsPeriodMicroseconds / 1000;
            result.CPU.Period = CfsPeriodMicroseconds;
        }
        else if (forUpdate)
        {
            result.CPU.Quota = -1;
            result.CPU.Period = CfsPeriodMicroseconds;
        }
        if (resources.CpuRequestMilli is { } request)
        {
            result.CPU.Shares = (ulong)Math.Max(2, request * 1024 / 1000);
        }
        if (resources.MemoryLimitBytes is { } memory)
        {
            result.Memory.Limit = memory;
        }
        else if (forUpdate)
        {
            result.Memory.Limit = -1;
        }
        return result;
    }

    private static void ApplyCapabilities(Spec spec, PodSecurityContext security, string field)
    {
        var set = new List<string>(DefaultCapabilities);
        for (int i = 0; i < security.DropCapabilities.Count; i++)
        {
            string name = security.DropCapabilities[i];
            if (name == "ALL")
            {
                set.Clear();
                continue;
            }
            set.Remove(CapabilityName(name, $"{field}.drop[{i}]"));
        }
        for (int i = 0; i < security.AddCapabilities.Count; i++)
        {
            string name = CapabilityName(security.AddCapabilities[i], $"{field}.add[{i}]");
            if (!set.Contains(name))
            {
                set.Add(name);
            }
        }
        var capabilities = spec.Process.Capabilities ??= new LinuxCapabilities();
        foreach (var list in new[] { capabilities.Bounding, capabilities.Effective, capabilities.Permitted })
        {
            list.Clear();
            list.Add(set);
        }
    }

    /// <summary>"NET_ADMIN" (Kubernetes' spelling) or "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; anything else is refused naming the field.</summary>
    private static string CapabilityName(string name, string field)
    {
        string bare = name.StartsWith("CAP_", StringComparison.Ordinal) ? name[4..] : name;
        if (bare.Length == 0 || !bare.All(c => c is (>= 'A' and <= 'Z') or '_' or (>= '0' and <= '9')))
        {
            throw new PodManifestException(field, $"'{name}' is not a capability name (NET_ADMIN, SYS_TIME, …)");
        }
        if (bare == "ALL")
        {
            throw new PodManifestException(field, "adding ALL capabilities is what privileged does, which is refused");
        }
        return "CAP_" + bare;
    }

    /// <summary>The env in order, each value with $(NAME) of an earlier entry replaced and $$ kept as a literal $, as Kubernetes expands them.</summary>
    internal static List<(string Name, string Value)> ExpandedEnv(PodContainerSpec container)
    {
        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<(string, string)>();
        foreach (var variable in container.Env)
        {
            string value = Expand(variable.Value, known);
            known[variable.Name] = value;
            result.Add((variable.Name, value));
        }
        return result;
    }

    private static (IReadOnlyList<string>? Command, IReadOnlyList<string>? Args) ExpandedCommand(PodContainerSpec container, List<(string Name, string Value)> env)
    {
        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in env)
        {
            known[name] = value;
        }
        return (container.Command?.Select(c => Expand(c, known)).ToList(), container.Args?.Select(a => Expand(a, known)).ToList());
    }

    /// <summary>Kubernetes' expansion (third_party/forked/golang/expansion): $(NAME) known → its value, unknown → kept; $$ → $.</summary>
    internal static string Expand(string input, IReadOnlyDictionary<string, string> known)
    {
        var result = new StringBuilder(input.Length);
        for (int i = 0; i < input.Length; i++)
        {
            if (input[i] != '$' || i + 1 >= input.Length)
            {
                result.Append(input[i]);
                continue;
            }
            char next = input[i + 1];
            if (next == '$')
            {
                result.Append('$');
                i++;
            }
            else if (next == '(' && input.IndexOf(')', i + 2) is var close && close > 0)
            {
                string name = input[(i + 2)..close];
                result.Append(known.TryGetValue(name, out string? value) ? value : input[i..(close + 1)]);
                i = close;
            }
            else
            {
                result.Append('$');
            }
        }
        return result.ToString();
    }
}
