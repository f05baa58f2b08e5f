using KataAgent.Agent.Errors;
using KataAgent.Agent.Guest;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Agent.Interop;
using KataAgent.Agent.Sandbox;
using KataAgent.Linux.Interop;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Containers.Spec;

/// <summary>
/// Turns Kata's OCI <see cref="Protocols.Agent.Spec"/> into the <see cref="InitConfig"/> the init
/// helper executes. Every field is checked here, in the agent, so bad input is an
/// INVALID_ARGUMENT naming the field and nothing has been touched yet.
/// </summary>
public static class SpecTranslator
{
    private const int NamespacesAlwaysNew = Libc.CLONE_NEWNS;

    /// <summary>
    /// The init configuration for a new container. Its PID namespace is the agent's choice, as in Kata (whose runtime
    /// removes it from the spec and says <paramref name="sandboxPidns"/> instead): with sandbox_pidns the sandbox's
    /// shared one (the pause process's, or the infra container's), else a spec entry's explicit path, else the pause
    /// process's when CreateSandbox made one, else a new one; never the agent's own.
    /// <paramref name="otherContainers"/> says whether the sandbox already has containers (sandbox_pidns with no
    /// shared namespace is then refused, as Kata refuses it; without any, this container becomes the infra container).
    /// Bind mount sources are checked later, by <see cref="RequireBindSources"/>, once storages are mounted.
    /// </summary>
    public static InitConfig ForCreate(Protocols.Agent.Spec spec, string rootfs, SandboxNamespaces? sandbox = null, bool sandboxPidns = false, bool otherContainers = false)
    {
        var linux = spec.Linux ?? new Protocols.Agent.Linux();
        var config = ForProcess(spec.Process ?? throw AgentException.InvalidArgument("OCI.Process", "is missing"), "OCI.Process", "create");
        config.Rootfs = rootfs;
        config.RootfsReadonly = spec.Root?.Readonly ?? false;
        config.RootPropagation = MountOptions.RootPropagation(linux.RootfsPropagation, "OCI.Linux.RootfsPropagation");

        int unshare = NamespacesAlwaysNew;
        bool newUts = false;
        bool sandboxUts = false;
        (string Field, string Path)? pidEntry = null;
        for (int i = 0; i < linux.Namespaces.Count; i++)
        {
            var ns = linux.Namespaces[i];
            string field = $"OCI.Linux.Namespaces[{i}]";
            int flag = ns.Type switch
            {
                "pid" => Libc.CLONE_NEWPID,
                "network" => Libc.CLONE_NEWNET,
                "mount" => Libc.CLONE_NEWNS,
                "ipc" => Libc.CLONE_NEWIPC,
                "uts" => Libc.CLONE_NEWUTS,
                "cgroup" => Libc.CLONE_NEWCGROUP,
                "user" or "time" => throw AgentException.InvalidArgument($"{field}.Type", $"'{ns.Type}' namespaces are not supported"),
                _ => throw AgentException.InvalidArgument($"{field}.Type", $"unknown namespace type '{ns.Type}'"),
            };
            if (flag == Libc.CLONE_NEWPID)
            {
                pidEntry ??= (field, ns.Path);
                continue;
            }
            if (flag == Libc.CLONE_NEWCGROUP)
            {
                if (ns.Path.Length > 0)
                {
                    throw AgentException.InvalidArgument($"{field}.Path", "joining an existing cgroup namespace is not supported");
                }
                config.NewCgroupNamespace = true;
            }
            else if (ns.Path.Length > 0)
            {
                if (!ns.Path.StartsWith('/'))
                {
                    throw AgentException.InvalidArgument($"{field}.Path", $"'{ns.Path}' is not absolute");
                }
                if (!File.Exists(ns.Path))
                {
                    throw AgentException.InvalidArgument($"{field}.Path", $"'{ns.Path}' does not exist");
                }
                config.Join.Add(new NamespaceJoin { Type = flag, Path = ns.Path });
            }
            else if (SharedPath(sandbox, flag) is { } shared)
            {
                // As Kata: a container's uts and ipc namespaces are the sandbox's.
                config.Join.Add(new NamespaceJoin { Type = flag, Path = shared });
                sandboxUts |= flag == Libc.CLONE_NEWUTS;
            }
            else
            {
                unshare |= flag;
                newUts |= flag == Libc.CLONE_NEWUTS;
            }
        }
        switch (PidNamespace(sandbox, sandboxPidns, otherContainers, pidEntry))
        {
            case { } join:
                config.Join.Add(new NamespaceJoin { Type = Libc.CLONE_NEWPID, Path = join });
                break;
            default:
                unshare |= Libc.CLONE_NEWPID;
                break;
        }
        config.UnshareFlags = unshare;
        if (spec.Hostname.Length > 0 && !sandboxUts)
        {
            if (!newUts)
            {
                throw AgentException.InvalidArgument("OCI.Hostname", "setting a hostname needs a new uts namespace");
            }
            config.Hostname = spec.Hostname;
        }

        for (int i = 0; i < spec.Mounts.Count; i++)
        {
            var mount = spec.Mounts[i];
            string field = $"OCI.Mounts[{i}]";
            if (!mount.Destination.StartsWith('/'))
            {
                throw AgentException.InvalidArgument($"{field}.destination", $"'{mount.Destination}' is not an absolute path");
            }
            var (flags, propagation, data) = MountOptions.Parse(mount.Options);
            if (mount.Type == "bind")
            {
                flags |= Libc.MS_BIND;
            }
            if ((flags & Libc.MS_BIND) != 0 && (mount.Source.Length == 0 || !mount.Source.StartsWith('/')))
            {
                throw AgentException.InvalidArgument($"{field}.source", $"bind source '{mount.Source}' is not an absolute path");
            }
            if ((flags & Libc.MS_BIND) == 0 && mount.Type.Length == 0)
            {
                throw AgentException.InvalidArgument($"{field}.type", "is empty and the mount is not a bind mount");
            }
            if ((flags & Libc.MS_BIND) == 0 && DeferredModules.ForFilesystem(mount.Type) is { Length: > 0 } modules)
            {
                // The container's init mounts it; the filesystem must be in the kernel by then.
                DeferredModules.Boot.Require($"{field}.type ({mount.Type})", modules);
            }
            config.Mounts.Add(new MountConfig
            {
                Destination = mount.Destination,
                Source = mount.Source.Length > 0 ? mount.Source : null,
                Type = mount.Type.Length > 0 ? mount.Type : null,
                Flags = flags,
                Propagation = propagation,
                Data = data,
            });
        }

        for (int i = 0; i < linux.Devices.Count; i++)
        {
            var device = linux.Devices[i];
            string field = $"OCI.Linux.Devices[{i}]";
            if (!device.Path.StartsWith("/dev/", StringComparison.Ordinal))
            {
                throw AgentException.InvalidArgument($"{field}.Path", $"'{device.Path}' is not under /dev");
            }
            char type = device.Type is "c" or "b" or "p" or "u" ? device.Type[0] : throw AgentException.InvalidArgument($"{field}.Type", $"'{device.Type}' is not c, b, u or p");
            config.Devices.Add(new DeviceConfig { Path = device.Path, Type = type, Major = device.Major, Minor = device.Minor, FileMode = device.FileMode, Uid = device.UID, Gid = device.GID });
        }
        config.MaskedPaths.AddRange(linux.MaskedPaths);
        config.ReadonlyPaths.AddRange(linux.ReadonlyPaths);
        foreach (var (key, value) in (IDictionary<string, string>)linux.Sysctl)
        {
            if (key.Contains('/') || key.Contains(".."))
            {
                throw AgentException.InvalidArgument("OCI.Linux.Sysctl", $"'{key}' is not a sysctl name");
            }
            config.Sysctls[key] = value;
        }
        if (linux.Seccomp is { } seccomp)
        {
            (config.SeccompProgram, config.SeccompFlags) = SeccompProfileMapper.Compile(seccomp);
        }
        return config;
    }

    /// <summary>
    /// Refuses a bind mount whose source does not exist. Called after the request's storages are mounted, as Kata
    /// mounts storages before the spec's mounts: a source below a storage's mount point exists only then.
    /// </summary>
    public static void RequireBindSources(Protocols.Agent.Spec spec)
    {
        for (int i = 0; i < spec.Mounts.Count; i++)
        {
            var mount = spec.Mounts[i];
            var (flags, _, _) = MountOptions.Parse(mount.Options);
            if ((mount.Type == "bind" || (flags & Libc.MS_BIND) != 0) && Libc.FileType(mount.Source) is null)
            {
                throw AgentException.InvalidArgument($"OCI.Mounts[{i}].source", $"bind source '{mount.Source}' does not exist");
            }
        }
    }

    private static string? SharedPath(SandboxNamespaces? sandbox, int flag) => flag switch
    {
        Libc.CLONE_NEWUTS => sandbox?.UtsPath,
        Libc.CLONE_NEWIPC => sandbox?.IpcPath,
        _ => null,
    };

    /// <summary>The PID namespace to join (see <see cref="ForCreate"/>), or null for a new one.</summary>
    private static string? PidNamespace(SandboxNamespaces? sandbox, bool sandboxPidns, bool otherContainers, (string Field, string Path)? pidEntry)
    {
        if (sandboxPidns)
        {
            // The runtime's host path means "the sandbox's"; Kata's agent ignores it too.
            return sandbox?.PidPath
                ?? (otherContainers
                    ? throw AgentException.FailedPrecondition("sandbox_pidns", "the sandbox has no shared PID namespace: CreateSandbox did not ask for one and its first container is gone")
                    : null);
        }
        if (pidEntry is { Path.Length: > 0 } explicitEntry)
        {
            if (!explicitEntry.Path.StartsWith('/'))
            {
                throw AgentException.InvalidArgument($"{explicitEntry.Field}.Path", $"'{explicitEntry.Path}' is not absolute");
            }
            if (!File.Exists(explicitEntry.Path))
            {
                throw AgentException.InvalidArgument($"{explicitEntry.Field}.Path", $"'{explicitEntry.Path}' does not exist");
            }
            return explicitEntry.Path;
        }
        return sandbox?.DefaultPidPath;
    }

    /// <summary>The process part, shared by create and exec.</summary>
    public static InitConfig ForProcess(Process process, string field, string mode)
    {
        if (process.Args.Count == 0)
        {
            throw AgentException.InvalidArgument($"{field}.Args", "is empty");
        }
        if (process.Cwd.Length > 0 && !process.Cwd.StartsWith('/'))
        {
            throw AgentException.InvalidArgument($"{field}.Cwd", $"'{process.Cwd}' is not absolute");
        }
        var config = new InitConfig
        {
            Mode = mode,
            Args = [.. process.Args],
            Env = [.. process.Env],
            Cwd = process.Cwd.Length > 0 ? process.Cwd : "/",
            Uid = process.User?.UID ?? 0,
            Gid = process.User?.GID ?? 0,
            AdditionalGids = [.. process.User?.AdditionalGids ?? []],
            Terminal = process.Terminal,
            NoNewPrivileges = process.NoNewPrivileges,
            OomScoreAdj = process.OOMScoreAdj == 0 ? null : process.OOMScoreAdj,
        };
        if (process.OOMScoreAdj is < -1000 or > 1000)
        {
            throw AgentException.InvalidArgument($"{field}.OOMScoreAdj", $"{process.OOMScoreAdj} is not in -1000..1000");
        }
        for (int i = 0; i < process.Rlimits.Count; i++)
        {
            var limit = process.Rlimits[i];
            if (limit.Soft > limit.Hard)
            {
                throw AgentException.InvalidArgument($"{field}.Rlimits[{i}]", $"soft limit {limit.Soft} is above the hard limit {limit.Hard}");
            }
            config.Rlimits.Add(new RlimitConfig { Resource = LinuxNames.Rlimit(limit.Type, $"{field}.Rlimits[{i}].Type"), Soft = limit.Soft, Hard = limit.Hard });
        }
        if (process.Capabilities is { } caps)
        {
            config.Capabilities = new CapabilitySets
            {
                Bounding = LinuxNames.CapabilityMask(caps.Bounding, $"{field}.Capabilities.Bounding"),
                Effective = LinuxNames.CapabilityMask(caps.Effective, $"{field}.Capabilities.Effective"),
                Inheritable = LinuxNames.CapabilityMask(caps.Inheritable, $"{field}.Capabilities.Inheritable"),
                Permitted = LinuxNames.CapabilityMask(caps.Permitted, $"{field}.Capabilities.Permitted"),
                Ambient = LinuxNames.CapabilityMask(caps.Ambient, $"{field}.Capabilities.Ambient"),
            };
        }
        return config;
    }
}
