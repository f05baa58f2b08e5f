using KataAgent.Agent.Errors;
using KataAgent.Agent.Containers.Init;
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

    public static InitConfig ForCreate(Protocols.Agent.Spec spec, string rootfs, SandboxNamespaces? sandbox = null)
    {
        var linux = spec.Linux ?? new Protocols.Agent.Linux();
        var config = ForProcess(spec.Process ?? throw AgentException.InvalidArgument("OCI.Process", "is missing"), "OCI.Process", "create");
        config.Rootfs = rootfs;
        config.RootfsReadonly = spec.Root?.Readonly ?? false;
        config.RootPropagation = MountOptions.RootPropagation(linux.RootfsPropagation, "OCI.Linux.RootfsPropagation");

        int unshare = NamespacesAlwaysNew;
        bool newUts = false;
        bool sandboxUts = false;
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
                // As Kata: a container's uts, ipc (and, with sandbox_pidns, pid) namespace is the sandbox's.
                config.Join.Add(new NamespaceJoin { Type = flag, Path = shared });
                sandboxUts |= flag == Libc.CLONE_NEWUTS;
            }
            else
            {
                unshare |= flag;
                newUts |= flag == Libc.CLONE_NEWUTS;
            }
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
                flags |= AgentLibc.MS_BIND;
            }
            if ((flags & AgentLibc.MS_BIND) != 0 && (mount.Source.Length == 0 || !mount.Source.StartsWith('/')))
            {
                throw AgentException.InvalidArgument($"{field}.source", $"bind source '{mount.Source}' is not an absolute path");
            }
            if ((flags & AgentLibc.MS_BIND) != 0 && AgentLibc.FileType(mount.Source) is null)
            {
                throw AgentException.InvalidArgument($"{field}.source", $"bind source '{mount.Source}' does not exist");
            }
            if ((flags & AgentLibc.MS_BIND) == 0 && mount.Type.Length == 0)
            {
                throw AgentException.InvalidArgument($"{field}.type", "is empty and the mount is not a bind mount");
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

    private static string? SharedPath(SandboxNamespaces? sandbox, int flag) => flag switch
    {
        Libc.CLONE_NEWUTS => sandbox?.UtsPath,
        Libc.CLONE_NEWIPC => sandbox?.IpcPath,
        Libc.CLONE_NEWPID => sandbox?.PidPath,
        _ => null,
    };

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
