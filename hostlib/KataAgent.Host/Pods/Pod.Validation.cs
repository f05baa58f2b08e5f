using System.Text.RegularExpressions;
using KataAgent.Host.Sandboxes;
using KataAgent.Protocols;

namespace KataAgent.Host.Pods;

public sealed partial class Pod
{
    /// <summary>
    /// Everything about <paramref name="spec"/> that can be checked on the host, before a VM is booted for it: names,
    /// references between containers and volumes, paths, quantities. The first problem is thrown naming its field as
    /// kubectl names it. hostPath volumes of type DirectoryOrCreate and FileOrCreate are created here, as kubelet does.
    /// </summary>
    private static void Validate(PodSpec spec, PodOptions options)
    {
        // The checks a manifest gets (names, references, quantities, volume sources, the gate): PodSpec.Validate.
        spec.Validate();
        if (!IsDnsLabel(spec.Name))
        {
            throw new PodManifestException("metadata.name", $"'{spec.Name}' is not a DNS label (lower-case letters, digits and '-', at most 63)");
        }
        if (options.Id is { } id)
        {
            ContainerIds.Validate(id, nameof(options.Id));
        }
        if (options.MaxShareRequestQueues < 1)
        {
            throw new ArgumentException($"MaxShareRequestQueues: {options.MaxShareRequestQueues} is not at least 1", nameof(options));
        }
        if (spec.Containers.Count == 0)
        {
            throw new PodManifestException("spec.containers", "a pod needs at least one container");
        }
        var volumes = new Dictionary<string, PodVolumeSpec>(StringComparer.Ordinal);
        for (int i = 0; i < spec.Volumes.Count; i++)
        {
            ValidateVolume(spec.Volumes[i], $"spec.volumes[{i}]", volumes);
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < spec.Containers.Count; i++)
        {
            var container = spec.Containers[i];
            string field = $"spec.containers[{i}]";
            if (!IsDnsLabel(container.Name))
            {
                throw new PodManifestException($"{field}.name", $"'{container.Name}' is not a DNS label (lower-case letters, digits and '-', at most 63)");
            }
            if (!names.Add(container.Name))
            {
                throw new PodManifestException($"{field}.name", $"'{container.Name}' is the name of an earlier container too");
            }
            if ((container.Image is null) == (container.Rootfs is null))
            {
                throw new PodManifestException($"{field}.image", "exactly one of image and rootfs is needed");
            }
            if (container.Image is not null && options.Images is null)
            {
                throw new PodManifestException($"{field}.image", "the pod has images but PodOptions.Images names no image store");
            }
            if (container.Rootfs is { } rootfs && !Directory.Exists(rootfs))
            {
                throw new PodManifestException($"{field}.rootfs", $"the directory {rootfs} does not exist");
            }
            if (container.WorkingDir is { } cwd && !cwd.StartsWith('/'))
            {
                throw new PodManifestException($"{field}.workingDir", $"'{cwd}' is not an absolute path");
            }
            ValidateResources(container.Resources, $"{field}.resources");
            var mountPaths = new HashSet<string>(StringComparer.Ordinal);
            for (int m = 0; m < container.VolumeMounts.Count; m++)
            {
                var mount = container.VolumeMounts[m];
                string at = $"{field}.volumeMounts[{m}]";
                if (!volumes.ContainsKey(mount.Name))
                {
                    throw new PodManifestException($"{at}.name", $"no volume is named '{mount.Name}'");
                }
                if (!mount.MountPath.StartsWith('/') || !mountPaths.Add(mount.MountPath.TrimEnd('/')))
                {
                    throw new PodManifestException($"{at}.mountPath", $"'{mount.MountPath}' is not an absolute path, or another mount of this container has it");
                }
                if (mount.SubPath.Length > 0 && (mount.SubPath.StartsWith('/') || mount.SubPath.Split('/').Contains("..")))
                {
                    throw new PodManifestException($"{at}.subPath", $"'{mount.SubPath}' must be a relative path inside the volume, without '..'");
                }
            }
        }
        if (spec.StartGate is { } gate)
        {
            if (gate.Args.Count == 0 || !gate.Args[0].StartsWith('/'))
            {
                throw new PodManifestException("metadata.annotations[kataagent.io/start-gate].args", "the gate's command must be an absolute path");
            }
            if (gate.Container is { } name && !names.Contains(name))
            {
                throw new PodManifestException("metadata.annotations[kataagent.io/start-gate].container", $"the pod has no container '{name}'");
            }
            if (gate.Timeout <= TimeSpan.Zero)
            {
                throw new PodManifestException("metadata.annotations[kataagent.io/start-gate].timeout", "must be positive");
            }
        }
    }

    private static void ValidateVolume(PodVolumeSpec volume, string field, Dictionary<string, PodVolumeSpec> volumes)
    {
        if (!IsDnsLabel(volume.Name))
        {
            throw new PodManifestException($"{field}.name", $"'{volume.Name}' is not a DNS label");
        }
        if (!volumes.TryAdd(volume.Name, volume))
        {
            throw new PodManifestException($"{field}.name", $"'{volume.Name}' is the name of an earlier volume too");
        }
        int sources = (volume.EmptyDir is null ? 0 : 1) + (volume.HostPath is null ? 0 : 1) + (volume.Block is null ? 0 : 1);
        if (sources != 1)
        {
            throw new PodManifestException(field, "exactly one of emptyDir, hostPath and block is needed");
        }
        if (volume.EmptyDir?.SizeLimitBytes is <= 0)
        {
            throw new PodManifestException($"{field}.emptyDir.sizeLimit", "must be positive");
        }
        if (volume.HostPath is { } hostPath)
        {
            ValidateHostPath(hostPath, $"{field}.hostPath");
        }
        if (volume.Block is { } block)
        {
            if (!File.Exists(block.Path))
            {
                throw new PodManifestException($"{field}.block.path", $"{block.Path} does not exist");
            }
            if (block.FsType != "ext4")
            {
                throw new PodManifestException($"{field}.block.fsType", $"'{block.FsType}' is not supported: the guest formats ext4");
            }
            if (block.Encryption is { } encryption && (encryption.Ephemeral == encryption.Key.HasValue || encryption.Key is { Length: not (32 or 64) }))
            {
                throw new PodManifestException($"{field}.block.encryption", "either ephemeral, or a key of 32 or 64 bytes");
            }
        }
    }

    private static void ValidateHostPath(HostPathVolumeSource hostPath, string field)
    {
        if (!hostPath.Path.StartsWith('/'))
        {
            throw new PodManifestException($"{field}.path", $"'{hostPath.Path}' is not an absolute path");
        }
        switch (hostPath.Type)
        {
            case "":
                if (!Path.Exists(hostPath.Path))
                {
                    throw new PodManifestException($"{field}.path", $"{hostPath.Path} does not exist");
                }
                break;
            case "Directory" when !Directory.Exists(hostPath.Path):
                throw new PodManifestException($"{field}.path", $"{hostPath.Path} is not a directory (type Directory)");
            case "DirectoryOrCreate":
                Directory.CreateDirectory(hostPath.Path);
                break;
            case "File" when !File.Exists(hostPath.Path):
                throw new PodManifestException($"{field}.path", $"{hostPath.Path} is not a file (type File)");
            case "FileOrCreate":
                if (!File.Exists(hostPath.Path))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(hostPath.Path)!);
                    using (File.Open(hostPath.Path, FileMode.OpenOrCreate))
                    {
                    }
                }
                break;
            case "Directory" or "File":
                break;
            default:
                throw new PodManifestException($"{field}.type", $"'{hostPath.Type}' is not supported: \"\", Directory, DirectoryOrCreate, File or FileOrCreate");
        }
    }

    private static void ValidateResources(PodResources resources, string field)
    {
        foreach (var (value, name) in new[] { (resources.CpuRequestMilli, "requests.cpu"), (resources.CpuLimitMilli, "limits.cpu"), (resources.MemoryRequestBytes, "requests.memory"), (resources.MemoryLimitBytes, "limits.memory") })
        {
            if (value is <= 0)
            {
                throw new PodManifestException($"{field}.{name}", "must be positive");
            }
        }
        if (resources.CpuRequestMilli > resources.CpuLimitMilli)
        {
            throw new PodManifestException($"{field}.requests.cpu", "must be less than or equal to the cpu limit");
        }
        if (resources.MemoryRequestBytes > resources.MemoryLimitBytes)
        {
            throw new PodManifestException($"{field}.requests.memory", "must be less than or equal to the memory limit");
        }
    }

    private static bool IsDnsLabel(string name) => name.Length is > 0 and <= 63 && DnsLabel().IsMatch(name);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();
}
