using System.Globalization;
using KataAgent.Host.Pods.Manifests;

namespace KataAgent.Host.Pods;

public sealed partial record PodSpec
{
    /// <summary>The filesystems the guest puts on a block volume.</summary>
    private static readonly HashSet<string> BlockFsTypes = ["ext4"];

    /// <summary>hostPath types a share into the VM can honour (Socket, CharDevice and BlockDevice cannot cross virtio-fs).</summary>
    private static readonly HashSet<string> HostPathTypes = ["", "Directory", "DirectoryOrCreate", "File", "FileOrCreate"];

    /// <summary>
    /// Checks the whole pod as Kubernetes validates a Pod, and what this runtime needs on top (image or rootfs,
    /// absolute paths, a block volume's key size, the start gate's container): names, uniqueness, references from
    /// volume mounts and the gate, requests within limits. <see cref="PodManifest"/> calls it; so does
    /// <see cref="Pod.CreateAsync"/>, for a spec written in C#.
    /// </summary>
    /// <exception cref="PodManifestException">The first problem, its field named as in a manifest ("spec.containers[1].volumeMounts[0].name").</exception>
    public void Validate()
    {
        Require(SubdomainOrNull(Name), "metadata.name");
        if (Namespace.Length > 0)
        {
            Require(KubernetesNames.LabelProblem(Namespace), "metadata.namespace");
        }
        foreach (var (key, _) in Labels)
        {
            Require(key.Length == 0 ? "keys must not be empty" : null, "metadata.labels");
        }
        foreach (var (key, _) in Annotations)
        {
            Require(key.Length == 0 ? "keys must not be empty" : null, "metadata.annotations");
        }
        if (!Enum.IsDefined(RestartPolicy))
        {
            throw new PodManifestException("spec.restartPolicy", $"{RestartPolicy} is not Always, OnFailure or Never");
        }
        if (Hostname.Length > 0)
        {
            Require(KubernetesNames.LabelProblem(Hostname), "spec.hostname");
        }
        ValidateDns();

        var volumes = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Volumes.Count; i++)
        {
            ValidateVolume(Volumes[i] ?? throw new PodManifestException($"spec.volumes[{i}]", "must not be null"), $"spec.volumes[{i}]");
            if (!volumes.Add(Volumes[i].Name))
            {
                throw new PodManifestException($"spec.volumes[{i}].name", $"'{Volumes[i].Name}' is used by another volume");
            }
        }

        if (Containers is null || Containers.Count == 0)
        {
            throw new PodManifestException("spec.containers", "a pod needs at least one container");
        }
        var containers = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Containers.Count; i++)
        {
            var container = Containers[i] ?? throw new PodManifestException($"spec.containers[{i}]", "must not be null");
            ValidateContainer(container, $"spec.containers[{i}]", volumes);
            if (!containers.Add(container.Name))
            {
                throw new PodManifestException($"spec.containers[{i}].name", $"'{container.Name}' is used by another container");
            }
        }
        ValidateStartGate(containers);
    }

    private static string? SubdomainOrNull(string? name) =>
        name is null ? "required" : KubernetesNames.SubdomainProblem(name, KubernetesNames.MaxPodNameLength);

    private static void Require(string? problem, string field)
    {
        if (problem is not null)
        {
            throw new PodManifestException(field, problem);
        }
    }

    private void ValidateDns()
    {
        if (DnsConfig is not { } dns)
        {
            return;
        }
        // resolv.conf's limits as Kubernetes enforces them: 3 nameservers, 32 search domains.
        if (dns.Nameservers.Count > 3)
        {
            throw new PodManifestException("spec.dnsConfig.nameservers", $"{dns.Nameservers.Count} nameservers; at most 3");
        }
        for (int i = 0; i < dns.Nameservers.Count; i++)
        {
            Require(KubernetesNames.IsIpAddress(dns.Nameservers[i]) ? null : $"'{dns.Nameservers[i]}' is not an IP address", $"spec.dnsConfig.nameservers[{i}]");
        }
        if (dns.Searches.Count > 32)
        {
            throw new PodManifestException("spec.dnsConfig.searches", $"{dns.Searches.Count} search domains; at most 32");
        }
        for (int i = 0; i < dns.Searches.Count; i++)
        {
            // A trailing dot (an absolute name) is allowed, as Kubernetes allows it.
            Require(KubernetesNames.SubdomainProblem(dns.Searches[i].TrimEnd('.'), 253), $"spec.dnsConfig.searches[{i}]");
        }
        for (int i = 0; i < dns.Options.Count; i++)
        {
            string option = dns.Options[i] ?? "";
            Require(option.Length == 0 || option[0] == ':' || option.Any(char.IsWhiteSpace) ? $"'{option}' is not name or name:value" : null, $"spec.dnsConfig.options[{i}]");
        }
    }

    private static void ValidateVolume(PodVolumeSpec volume, string path)
    {
        Require(KubernetesNames.LabelProblem(volume.Name ?? ""), path + ".name");
        int sources = (volume.EmptyDir is null ? 0 : 1) + (volume.HostPath is null ? 0 : 1) + (volume.Block is null ? 0 : 1);
        if (sources != 1)
        {
            throw new PodManifestException(path, sources == 0 ? "no volume source: give emptyDir, hostPath or a block volume" : "more than one volume source");
        }
        if (volume.EmptyDir is { SizeLimitBytes: <= 0 } emptyDir)
        {
            throw new PodManifestException(path + ".emptyDir.sizeLimit", $"{emptyDir.SizeLimitBytes} must be greater than zero");
        }
        if (volume.HostPath is { } hostPath)
        {
            Require(KubernetesNames.AbsolutePathProblem(hostPath.Path ?? ""), path + ".hostPath.path");
            Require(HostPathTypes.Contains(hostPath.Type ?? "") ? null : $"'{hostPath.Type}' is not supported (\"\", Directory, DirectoryOrCreate, File, FileOrCreate)", path + ".hostPath.type");
        }
        if (volume.Block is { } block)
        {
            string blockPath = $"metadata.annotations[{PodManifest.BlockVolumesAnnotation}].{volume.Name}";
            Require(KubernetesNames.AbsolutePathProblem(block.Path ?? ""), blockPath + ".path");
            Require(BlockFsTypes.Contains(block.FsType ?? "") ? null : $"'{block.FsType}' is not supported (ext4)", blockPath + ".fsType");
            if (block.Encryption is { } encryption)
            {
                if (encryption.Ephemeral == encryption.Key.HasValue)
                {
                    throw new PodManifestException(blockPath + ".encryption", "give either an ephemeral key or a key, not both or neither");
                }
                if (encryption.Key is { Length: not (32 or 64) } key)
                {
                    throw new PodManifestException(blockPath + ".encryption", $"the key has {key.Length} bytes; aes-xts-plain64 takes 32 or 64");
                }
                if (encryption.Ephemeral && block.ReadOnly)
                {
                    throw new PodManifestException(blockPath + ".readOnly", "an ephemeral-key volume starts empty every time: read-only makes it useless");
                }
            }
        }
    }

    private static void ValidateContainer(PodContainerSpec container, string path, HashSet<string> volumes)
    {
        Require(KubernetesNames.LabelProblem(container.Name ?? ""), path + ".name");
        if ((container.Image is null) == (container.Rootfs is null))
        {
            throw new PodManifestException(path + ".image", "give either an image or a rootfs directory");
        }
        if (container.Image is { Length: 0 })
        {
            throw new PodManifestException(path + ".image", "must not be empty");
        }
        if (container.Rootfs is { } rootfs)
        {
            Require(KubernetesNames.AbsolutePathProblem(rootfs), path + ".rootfs");
        }
        RequireNoNul(container.Command, path + ".command");
        RequireNoNul(container.Args, path + ".args");
        for (int i = 0; i < container.Env.Count; i++)
        {
            var env = container.Env[i];
            Require(KubernetesNames.EnvNameProblem(env.Name ?? ""), $"{path}.env[{i}].name");
            Require((env.Value ?? "").Contains('\0', StringComparison.Ordinal) ? "contains a NUL character" : null, $"{path}.env[{i}].value");
        }
        if (container.WorkingDir is { } workingDir)
        {
            Require(KubernetesNames.AbsolutePathProblem(workingDir), path + ".workingDir");
        }
        ValidateResources(container.Resources ?? new PodResources(), path + ".resources");

        var mountPaths = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < container.VolumeMounts.Count; i++)
        {
            var mount = container.VolumeMounts[i];
            string mountPath = $"{path}.volumeMounts[{i}]";
            Require(mount.Name is { Length: > 0 } ? null : "required", mountPath + ".name");
            Require(volumes.Contains(mount.Name!) ? null : $"no volume named '{mount.Name}' in spec.volumes", mountPath + ".name");
            Require(KubernetesNames.AbsolutePathProblem(mount.MountPath ?? ""), mountPath + ".mountPath");
            Require(mountPaths.Add(mount.MountPath!.TrimEnd('/')) ? null : $"'{mount.MountPath}' is mounted twice", mountPath + ".mountPath");
            Require(KubernetesNames.RelativePathProblem(mount.SubPath ?? ""), mountPath + ".subPath");
        }

        var portNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < container.Ports.Count; i++)
        {
            var port = container.Ports[i];
            string portPath = $"{path}.ports[{i}]";
            Require(port.ContainerPort is >= 1 and <= 65535 ? null : $"{port.ContainerPort} is not between 1 and 65535", portPath + ".containerPort");
            Require(port.Protocol is "TCP" or "UDP" or "SCTP" ? null : $"'{port.Protocol}' is not TCP, UDP or SCTP", portPath + ".protocol");
            if (port.Name is { } name)
            {
                Require(KubernetesNames.PortNameProblem(name), portPath + ".name");
                Require(portNames.Add(name) ? null : $"'{name}' names another port", portPath + ".name");
            }
        }

        if (container.SecurityContext is { } security)
        {
            string securityPath = path + ".securityContext";
            Require(security.RunAsUser is null or (>= 0 and <= int.MaxValue) ? null : $"{security.RunAsUser} is not between 0 and {int.MaxValue}", securityPath + ".runAsUser");
            Require(security.RunAsGroup is null or (>= 0 and <= int.MaxValue) ? null : $"{security.RunAsGroup} is not between 0 and {int.MaxValue}", securityPath + ".runAsGroup");
            RequireCapabilities(security.AddCapabilities, securityPath + ".capabilities.add");
            RequireCapabilities(security.DropCapabilities, securityPath + ".capabilities.drop");
        }
    }

    /// <summary>A container's requests and limits as Kubernetes checks them (also for an in-place resize).</summary>
    internal static void ValidateResources(PodResources resources, string path)
    {
        Require(resources.CpuRequestMilli is < 0 ? "must be greater than or equal to 0" : null, path + ".requests.cpu");
        Require(resources.CpuLimitMilli is < 0 ? "must be greater than or equal to 0" : null, path + ".limits.cpu");
        Require(resources.MemoryRequestBytes is < 0 ? "must be greater than or equal to 0" : null, path + ".requests.memory");
        Require(resources.MemoryLimitBytes is < 0 ? "must be greater than or equal to 0" : null, path + ".limits.memory");
        if (resources.CpuRequestMilli is { } cpuRequest && resources.CpuLimitMilli is { } cpuLimit && cpuRequest > cpuLimit)
        {
            throw new PodManifestException(path + ".requests.cpu", $"{Milli(cpuRequest)} must be less than or equal to the cpu limit of {Milli(cpuLimit)}");
        }
        if (resources.MemoryRequestBytes is { } memoryRequest && resources.MemoryLimitBytes is { } memoryLimit && memoryRequest > memoryLimit)
        {
            throw new PodManifestException(path + ".requests.memory", $"{memoryRequest} bytes must be less than or equal to the memory limit of {memoryLimit} bytes");
        }
    }

    private static string Milli(long milli) => milli.ToString(CultureInfo.InvariantCulture) + "m";

    private static void RequireNoNul(IReadOnlyList<string>? values, string path)
    {
        for (int i = 0; values is not null && i < values.Count; i++)
        {
            Require(values[i] is null ? "must not be null" : values[i].Contains('\0', StringComparison.Ordinal) ? "contains a NUL character" : null, $"{path}[{i}]");
        }
    }

    private static void RequireCapabilities(IReadOnlyList<string> capabilities, string path)
    {
        for (int i = 0; i < capabilities.Count; i++)
        {
            Require(LinuxCapabilities.Names.Contains(capabilities[i] ?? "") ? null : $"'{capabilities[i]}' is not a Linux capability (NET_ADMIN, SYS_TIME, … or ALL)", $"{path}[{i}]");
        }
    }

    private void ValidateStartGate(HashSet<string> containers)
    {
        if (StartGate is not { } gate)
        {
            return;
        }
        string path = $"metadata.annotations[{PodManifest.StartGateAnnotation}]";
        if (gate.Args is not { Count: > 0 } || gate.Args.Any(a => a is null))
        {
            throw new PodManifestException(path, "the gate needs a command: a non-empty list of strings");
        }
        Require(KubernetesNames.AbsolutePathProblem(gate.Args[0]), path + "[0]");
        RequireNoNul(gate.Args, path);
        if (gate.Container is { } container && !containers.Contains(container))
        {
            throw new PodManifestException($"metadata.annotations[{PodManifest.StartGateContainerAnnotation}]", $"no container named '{container}' in spec.containers");
        }
        if (gate.Timeout <= TimeSpan.Zero)
        {
            throw new PodManifestException($"metadata.annotations[{PodManifest.StartGateTimeoutAnnotation}]", $"{gate.Timeout} must be positive");
        }
        for (int i = 0; i < gate.Env.Count; i++)
        {
            string entry = gate.Env[i] ?? "";
            int equals = entry.IndexOf('=', StringComparison.Ordinal);
            Require(equals <= 0 ? $"'{entry}' is not NAME=value" : KubernetesNames.EnvNameProblem(entry[..equals]), $"metadata.annotations[{PodManifest.StartGateEnvAnnotation}][{i}]");
        }
    }
}
