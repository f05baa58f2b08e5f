using KataAgent.Host.Pods.Manifests;

namespace KataAgent.Host.Pods;

public static partial class PodManifest
{
    private static readonly IReadOnlySet<string> ContainerFields = KubernetesFields.Set(
        "name", "image", "command", "args", "env", "workingDir", "resources", "volumeMounts", "ports", "securityContext", "tty", "stdin");

    private static readonly IReadOnlySet<string> EnvFields = KubernetesFields.Set("name", "value");
    private static readonly IReadOnlySet<string> ResourceFields = KubernetesFields.Set("limits", "requests");
    private static readonly IReadOnlySet<string> ResourceNames = KubernetesFields.Set("cpu", "memory");
    private static readonly IReadOnlySet<string> MountFields = KubernetesFields.Set("name", "mountPath", "readOnly", "subPath");
    private static readonly IReadOnlySet<string> PortFields = KubernetesFields.Set("name", "containerPort", "protocol");
    private static readonly IReadOnlySet<string> SecurityFields = KubernetesFields.Set("runAsUser", "runAsGroup", "capabilities", "readOnlyRootFilesystem", "privileged");

    private static List<PodContainerSpec> Containers(ManifestObject spec)
    {
        if (!spec.Has("containers"))
        {
            throw spec.ErrorAt("containers", "required: a pod needs at least one container");
        }
        return spec.Objects("containers").Select(Container).ToList();
    }

    private static PodContainerSpec Container(ManifestObject container)
    {
        container.Only(ContainerFields, KubernetesFields.Container);
        return new PodContainerSpec
        {
            Name = container.RequiredString("name"),
            Image = container.RequiredString("image"),
            Command = container.Strings("command"),
            Args = container.Strings("args"),
            Env = container.Objects("env").Select(Env).ToList(),
            WorkingDir = container.String("workingDir") is { Length: > 0 } workingDir ? workingDir : null,
            Resources = container.Object("resources") is { } resources ? Resources(resources) : new PodResources(),
            VolumeMounts = container.Objects("volumeMounts").Select(Mount).ToList(),
            Ports = container.Objects("ports").Select(Port).ToList(),
            SecurityContext = container.Object("securityContext") is { } security ? Security(security) : null,
            Tty = container.Boolean("tty") ?? false,
            Stdin = container.Boolean("stdin") ?? false,
        };
    }

    private static PodEnvVar Env(ManifestObject env)
    {
        if (env.Has("valueFrom"))
        {
            throw env.ErrorAt("valueFrom", "not supported: there are no Secrets, ConfigMaps or downward API here; give the value");
        }
        env.Only(EnvFields, KubernetesFields.EnvVar);
        return new PodEnvVar(env.RequiredString("name"), env.String("value") ?? "");
    }

    private static PodResources Resources(ManifestObject resources)
    {
        resources.Only(ResourceFields, KubernetesFields.ResourceRequirements);
        var limits = resources.Object("limits");
        var requests = resources.Object("requests");
        foreach (var list in new[] { limits, requests })
        {
            if (list is not null)
            {
                OnlyResources(list);
            }
        }
        long? cpuLimit = limits is null ? null : Cpu(limits);
        long? memoryLimit = limits is null ? null : Memory(limits);
        // Kubernetes' defaulting: a resource with a limit and no request requests its limit.
        return new PodResources
        {
            CpuLimitMilli = cpuLimit,
            MemoryLimitBytes = memoryLimit,
            CpuRequestMilli = (requests is null ? null : Cpu(requests)) ?? cpuLimit,
            MemoryRequestBytes = (requests is null ? null : Memory(requests)) ?? memoryLimit,
        };
    }

    private static long? Cpu(ManifestObject list) =>
        list.Quantity("cpu") is { } cpu ? NonNegative(list, "cpu", cpu, cpu.ToMilli) : null;

    private static long? Memory(ManifestObject list) =>
        list.Quantity("memory") is { } memory ? NonNegative(list, "memory", memory, memory.ToUnits) : null;

    // Extended resources (nvidia.com/gpu), hugepages and ephemeral-storage: a VM here has none of them to give.
    private static void OnlyResources(ManifestObject list)
    {
        foreach (string name in list.Names)
        {
            if (!ResourceNames.Contains(name))
            {
                throw new PodManifestException($"{list.Path}[{name}]", "not supported: only cpu and memory", list.Line, file: null);
            }
        }
    }

    private static long NonNegative(ManifestObject list, string name, ResourceQuantity quantity, Func<long> value)
    {
        if (quantity.IsNegative)
        {
            throw list.ErrorAt(name, $"'{quantity}' must be greater than or equal to 0");
        }
        try
        {
            return value();
        }
        catch (OverflowException)
        {
            throw list.ErrorAt(name, $"'{quantity}' is too large");
        }
    }

    private static PodVolumeMount Mount(ManifestObject mount)
    {
        mount.Only(MountFields, KubernetesFields.VolumeMount);
        return new PodVolumeMount
        {
            Name = mount.RequiredString("name"),
            MountPath = mount.RequiredString("mountPath"),
            ReadOnly = mount.Boolean("readOnly") ?? false,
            SubPath = mount.String("subPath") ?? "",
        };
    }

    private static PodContainerPort Port(ManifestObject port)
    {
        port.Only(PortFields, KubernetesFields.ContainerPort);
        return new PodContainerPort
        {
            ContainerPort = (int)(port.Integer("containerPort", 1, 65535) ?? throw port.ErrorAt("containerPort", "required")),
            Protocol = port.String("protocol") ?? "TCP",
            Name = port.String("name"),
        };
    }

    private static PodSecurityContext Security(ManifestObject security)
    {
        if (security.Boolean("privileged") == true)
        {
            throw security.ErrorAt("privileged", "true is refused: a privileged container would own the whole VM (its devices, kernel settings and the agent)");
        }
        security.Only(SecurityFields, KubernetesFields.SecurityContext);
        IReadOnlyList<string> add = [];
        IReadOnlyList<string> drop = [];
        if (security.Object("capabilities") is { } capabilities)
        {
            capabilities.Only(KubernetesFields.Capabilities, KubernetesFields.Capabilities);
            add = (capabilities.Strings("add") ?? []).Select(LinuxCapabilities.Normalize).ToList();
            drop = (capabilities.Strings("drop") ?? []).Select(LinuxCapabilities.Normalize).ToList();
        }
        return new PodSecurityContext
        {
            RunAsUser = security.Integer("runAsUser", 0, int.MaxValue),
            RunAsGroup = security.Integer("runAsGroup", 0, int.MaxValue),
            AddCapabilities = add,
            DropCapabilities = drop,
            ReadOnlyRootFilesystem = security.Boolean("readOnlyRootFilesystem") ?? false,
        };
    }
}
