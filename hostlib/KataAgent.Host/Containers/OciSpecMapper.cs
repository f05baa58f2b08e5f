using Google.Protobuf.Collections;
using KataAgent.Protocols.Agent;
using M = KataAgent.Host.Containers.OciConfigModel;
using OciLinux = KataAgent.Protocols.Agent.Linux;

namespace KataAgent.Host.Containers;

/// <summary>
/// Maps a deserialized OCI config.json (lowerCamelCase JSON) onto Kata's protobuf
/// <see cref="Spec"/> (Go-style PascalCase fields), field by field and explicitly. Absent JSON
/// members stay at their protobuf defaults (absent objects stay null); members the Spec cannot
/// carry are ignored. A null inside a list or map is an error naming its JSON path.
/// </summary>
internal sealed class OciSpecMapper
{
    private readonly string _file;

    private OciSpecMapper(string file)
    {
        _file = file;
    }

    /// <summary>The Spec for <paramref name="config"/>; a relative root.path is resolved against <paramref name="bundleDirectory"/>.</summary>
    /// <exception cref="OciBundleException">A value Kata's Spec cannot carry.</exception>
    public static Spec Map(M.Config config, string bundleDirectory, string file) => new OciSpecMapper(file).MapConfig(config, bundleDirectory);

    /// <summary>A process object on its own (a task Exec's spec): JSON paths start at its root.</summary>
    /// <exception cref="OciBundleException">A value Kata's Process cannot carry.</exception>
    public static Process MapProcessDocument(M.Process process, string file) => new OciSpecMapper(file).MapProcess(process, "$");

    /// <summary>A linux.resources object on its own (a task Update's resources): JSON paths start at its root.</summary>
    /// <exception cref="OciBundleException">A value Kata's LinuxResources cannot carry.</exception>
    public static LinuxResources MapResourcesDocument(M.Resources resources, string file) => new OciSpecMapper(file).MapResources(resources, "$");

    private Spec MapConfig(M.Config c, string bundleDirectory)
    {
        var spec = new Spec
        {
            Version = c.OciVersion ?? "",
            Hostname = c.Hostname ?? "",
        };
        if (c.Process is { } process)
        {
            spec.Process = MapProcess(process, "$.process");
        }
        spec.Root = MapRoot(c.Root, bundleDirectory);
        Each(c.Mounts, "$.mounts", (m, path) => spec.Mounts.Add(new Mount
        {
            Destination = m.Destination ?? "",
            Type = m.Type ?? "",
            Source = m.Source ?? "",
            Options = { Strings(m.Options, $"{path}.options") },
        }));
        if (c.Hooks is { } hooks)
        {
            spec.Hooks = new Hooks();
            AddHooks(spec.Hooks.Prestart, hooks.Prestart, "$.hooks.prestart");
            AddHooks(spec.Hooks.CreateRuntime, hooks.CreateRuntime, "$.hooks.createRuntime");
            AddHooks(spec.Hooks.CreateContainer, hooks.CreateContainer, "$.hooks.createContainer");
            AddHooks(spec.Hooks.StartContainer, hooks.StartContainer, "$.hooks.startContainer");
            AddHooks(spec.Hooks.Poststart, hooks.Poststart, "$.hooks.poststart");
            AddHooks(spec.Hooks.Poststop, hooks.Poststop, "$.hooks.poststop");
        }
        AddMap(spec.Annotations, c.Annotations, "$.annotations");
        if (c.Linux is { } linux)
        {
            spec.Linux = MapLinux(linux);
        }
        return spec;
    }

    private Process MapProcess(M.Process p, string path)
    {
        var process = new Process
        {
            Terminal = p.Terminal ?? false,
            Args = { Strings(p.Args, $"{path}.args") },
            Env = { Strings(p.Env, $"{path}.env") },
            Cwd = p.Cwd ?? "",
            NoNewPrivileges = p.NoNewPrivileges ?? false,
            ApparmorProfile = p.ApparmorProfile ?? "",
            OOMScoreAdj = p.OomScoreAdj ?? 0,
            SelinuxLabel = p.SelinuxLabel ?? "",
        };
        if (p.ConsoleSize is { } box)
        {
            process.ConsoleSize = new Box { Height = box.Height ?? 0, Width = box.Width ?? 0 };
        }
        if (p.User is { } user)
        {
            process.User = new User
            {
                UID = user.Uid ?? 0,
                GID = user.Gid ?? 0,
                AdditionalGids = { user.AdditionalGids ?? [] },
                Username = user.Username ?? "",
            };
        }
        if (p.Capabilities is { } caps)
        {
            process.Capabilities = new LinuxCapabilities
            {
                Bounding = { Strings(caps.Bounding, $"{path}.capabilities.bounding") },
                Effective = { Strings(caps.Effective, $"{path}.capabilities.effective") },
                Inheritable = { Strings(caps.Inheritable, $"{path}.capabilities.inheritable") },
                Permitted = { Strings(caps.Permitted, $"{path}.capabilities.permitted") },
                Ambient = { Strings(caps.Ambient, $"{path}.capabilities.ambient") },
            };
        }
        Each(p.Rlimits, $"{path}.rlimits", (r, _) => process.Rlimits.Add(new POSIXRlimit { Type = r.Type ?? "", Hard = r.Hard ?? 0, Soft = r.Soft ?? 0 }));
        return process;
    }

    private Root MapRoot(M.Root? root, string bundleDirectory)
    {
        if (root?.Path is not { Length: > 0 } path)
        {
            throw Error(root is null ? "$.root" : "$.root.path", "is missing: a bundle names its root filesystem");
        }
        if (path.Contains('\0'))
        {
            throw Error("$.root.path", "contains a NUL character");
        }
        // The agent needs an absolute path (stand-alone) or one relative to its own bundle
        // directory in the guest; for a bundle on this host, resolve it here.
        string full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(bundleDirectory, path));
        return new Root { Path = full, Readonly = root.Readonly ?? false };
    }

    private OciLinux MapLinux(M.Linux l)
    {
        var linux = new OciLinux
        {
            CgroupsPath = l.CgroupsPath ?? "",
            RootfsPropagation = l.RootfsPropagation ?? "",
            MountLabel = l.MountLabel ?? "",
            MaskedPaths = { Strings(l.MaskedPaths, "$.linux.maskedPaths") },
            ReadonlyPaths = { Strings(l.ReadonlyPaths, "$.linux.readonlyPaths") },
        };
        Each(l.UidMappings, "$.linux.uidMappings", (m, _) => linux.UIDMappings.Add(IdMapping(m)));
        Each(l.GidMappings, "$.linux.gidMappings", (m, _) => linux.GIDMappings.Add(IdMapping(m)));
        AddMap(linux.Sysctl, l.Sysctl, "$.linux.sysctl");
        if (l.Resources is { } resources)
        {
            linux.Resources = MapResources(resources, "$.linux.resources");
        }
        Each(l.Namespaces, "$.linux.namespaces", (ns, _) => linux.Namespaces.Add(new LinuxNamespace { Type = ns.Type ?? "", Path = ns.Path ?? "" }));
        Each(l.Devices, "$.linux.devices", (d, _) => linux.Devices.Add(new LinuxDevice
        {
            Path = d.Path ?? "",
            Type = d.Type ?? "",
            Major = d.Major ?? 0,
            Minor = d.Minor ?? 0,
            FileMode = d.FileMode ?? 0,
            UID = d.Uid ?? 0,
            GID = d.Gid ?? 0,
        }));
        if (l.Seccomp is { } seccomp)
        {
            linux.Seccomp = MapSeccomp(seccomp, "$.linux.seccomp");
        }
        if (l.IntelRdt is { } rdt)
        {
            linux.IntelRdt = new LinuxIntelRdt { L3CacheSchema = rdt.L3CacheSchema ?? "" };
        }
        return linux;
    }

    private static LinuxIDMapping IdMapping(M.IdMapping m) => new() { ContainerID = m.ContainerId ?? 0, HostID = m.HostId ?? 0, Size = m.Size ?? 0 };

    /// <summary>OCI <c>linux.resources</c> (also what <see cref="Container.UpdateAsync"/> takes).</summary>
    private LinuxResources MapResources(M.Resources r, string path)
    {
        var resources = new LinuxResources();
        // A rule without major/minor is a wildcard; Kata's Spec has no "unset", so -1 as in runc's '*'.
        Each(r.Devices, $"{path}.devices", (d, _) => resources.Devices.Add(new LinuxDeviceCgroup
        {
            Allow = d.Allow ?? false,
            Type = d.Type ?? "",
            Major = d.Major ?? -1,
            Minor = d.Minor ?? -1,
            Access = d.Access ?? "",
        }));
        if (r.Memory is { } memory)
        {
            resources.Memory = new LinuxMemory
            {
                Limit = memory.Limit ?? 0,
                Reservation = memory.Reservation ?? 0,
                Swap = memory.Swap ?? 0,
                Kernel = memory.Kernel ?? 0,
                KernelTCP = memory.KernelTcp ?? 0,
                Swappiness = memory.Swappiness ?? 0,
                DisableOOMKiller = memory.DisableOomKiller ?? false,
            };
        }
        if (r.Cpu is { } cpu)
        {
            resources.CPU = new LinuxCPU
            {
                Shares = cpu.Shares ?? 0,
                Quota = cpu.Quota ?? 0,
                Period = cpu.Period ?? 0,
                RealtimeRuntime = cpu.RealtimeRuntime ?? 0,
                RealtimePeriod = cpu.RealtimePeriod ?? 0,
                Cpus = cpu.Cpus ?? "",
                Mems = cpu.Mems ?? "",
            };
        }
        if (r.Pids is { } pids)
        {
            resources.Pids = new LinuxPids { Limit = pids.Limit ?? 0 };
        }
        if (r.BlockIo is { } blkio)
        {
            var blockIo = new LinuxBlockIO { Weight = blkio.Weight ?? 0, LeafWeight = blkio.LeafWeight ?? 0 };
            Each(blkio.WeightDevice, $"{path}.blockIO.weightDevice", (d, _) => blockIo.WeightDevice.Add(new LinuxWeightDevice
            {
                Major = d.Major ?? 0,
                Minor = d.Minor ?? 0,
                Weight = d.Weight ?? 0,
                LeafWeight = d.LeafWeight ?? 0,
            }));
            AddThrottle(blockIo.ThrottleReadBpsDevice, blkio.ThrottleReadBpsDevice, $"{path}.blockIO.throttleReadBpsDevice");
            AddThrottle(blockIo.ThrottleWriteBpsDevice, blkio.ThrottleWriteBpsDevice, $"{path}.blockIO.throttleWriteBpsDevice");
            AddThrottle(blockIo.ThrottleReadIOPSDevice, blkio.ThrottleReadIopsDevice, $"{path}.blockIO.throttleReadIOPSDevice");
            AddThrottle(blockIo.ThrottleWriteIOPSDevice, blkio.ThrottleWriteIopsDevice, $"{path}.blockIO.throttleWriteIOPSDevice");
            resources.BlockIO = blockIo;
        }
        Each(r.HugepageLimits, $"{path}.hugepageLimits", (h, _) => resources.HugepageLimits.Add(new LinuxHugepageLimit { Pagesize = h.PageSize ?? "", Limit = h.Limit ?? 0 }));
        if (r.Network is { } network)
        {
            var net = new LinuxNetwork { ClassID = network.ClassId ?? 0 };
            Each(network.Priorities, $"{path}.network.priorities", (p, _) => net.Priorities.Add(new LinuxInterfacePriority { Name = p.Name ?? "", Priority = p.Priority ?? 0 }));
            resources.Network = net;
        }
        return resources;
    }

    private LinuxSeccomp MapSeccomp(M.Seccomp s, string path)
    {
        var seccomp = new LinuxSeccomp
        {
            DefaultAction = s.DefaultAction ?? "",
            Architectures = { Strings(s.Architectures, $"{path}.architectures") },
            Flags = { Strings(s.Flags, $"{path}.flags") },
        };
        Each(s.Syscalls, $"{path}.syscalls", (sc, scPath) =>
        {
            var syscall = new LinuxSyscall
            {
                Names = { Strings(sc.Names, $"{scPath}.names") },
                Action = sc.Action ?? "",
            };
            if (sc.ErrnoRet is { } errno)
            {
                syscall.Errnoret = errno;
            }
            Each(sc.Args, $"{scPath}.args", (a, _) => syscall.Args.Add(new LinuxSeccompArg
            {
                Index = a.Index ?? 0,
                Value = a.Value ?? 0,
                ValueTwo = a.ValueTwo ?? 0,
                Op = a.Op ?? "",
            }));
            seccomp.Syscalls.Add(syscall);
        });
        return seccomp;
    }

    private void AddHooks(RepeatedField<Hook> target, List<M.Hook?>? hooks, string path) =>
        Each(hooks, path, (h, hookPath) => target.Add(new Hook
        {
            Path = h.Path ?? "",
            Args = { Strings(h.Args, $"{hookPath}.args") },
            Env = { Strings(h.Env, $"{hookPath}.env") },
            Timeout = h.Timeout ?? 0,
        }));

    private void AddThrottle(RepeatedField<LinuxThrottleDevice> target, List<M.ThrottleDevice?>? devices, string path) =>
        Each(devices, path, (d, _) => target.Add(new LinuxThrottleDevice { Major = d.Major ?? 0, Minor = d.Minor ?? 0, Rate = d.Rate ?? 0 }));

    private void AddMap(MapField<string, string> target, Dictionary<string, string?>? source, string path)
    {
        if (source is null)
        {
            return;
        }
        foreach (var (key, value) in source)
        {
            target[key] = value ?? throw Error($"{path}.{key}", "is null; expected a string");
        }
    }

    private IEnumerable<string> Strings(List<string?>? values, string path)
    {
        if (values is null)
        {
            return [];
        }
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] is null)
            {
                throw Error($"{path}[{i}]", "is null; expected a string");
            }
        }
        return values!;
    }

    private void Each<T>(List<T?>? items, string path, Action<T, string> map)
        where T : class
    {
        if (items is null)
        {
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            string itemPath = $"{path}[{i}]";
            map(items[i] ?? throw Error(itemPath, "is null; expected an object"), itemPath);
        }
    }

    private OciBundleException Error(string jsonPath, string problem) => new(_file, jsonPath, null, problem);
}
