using KataAgent.Protocols;

namespace KataAgent.Host.Pods;

public sealed partial class Pod
{
    /// <summary>
    /// Checks <paramref name="spec"/> before a VM is booted for it: everything the spec alone says
    /// (<see cref="PodSpec.Validate"/>: names, references, paths, quantities, the gate), then what only this host and
    /// <paramref name="options"/> can answer (the sandbox id, an image store for images, the directories and files the
    /// volumes name). The first problem is thrown naming its field as kubectl names it. hostPath volumes of type
    /// DirectoryOrCreate and FileOrCreate are created here, as kubelet does.
    /// </summary>
    private static void Validate(PodSpec spec, PodOptions options)
    {
        spec.Validate();
        if (options.Id is { } id)
        {
            ContainerIds.Validate(id, nameof(options.Id));
        }
        else if (ContainerIds.Problem(spec.Name) is { } problem)
        {
            throw new PodManifestException("metadata.name", $"'{spec.Name}' cannot be the sandbox id: it {problem}");
        }
        if (options.MaxShareRequestQueues < 1)
        {
            throw new ArgumentException($"MaxShareRequestQueues: {options.MaxShareRequestQueues} is not at least 1", nameof(options));
        }
        for (int i = 0; i < spec.Containers.Count; i++)
        {
            var container = spec.Containers[i];
            string field = $"spec.containers[{i}]";
            if (container.Image is not null && options.Images is null)
            {
                throw new PodManifestException($"{field}.image", "the pod has images but PodOptions.Images names no image store");
            }
            if (container.Rootfs is { } rootfs && !Directory.Exists(rootfs))
            {
                throw new PodManifestException($"{field}.rootfs", $"the directory {rootfs} does not exist");
            }
        }
        for (int i = 0; i < spec.Volumes.Count; i++)
        {
            var volume = spec.Volumes[i];
            if (volume.HostPath is { } hostPath)
            {
                PrepareHostPath(hostPath, $"spec.volumes[{i}].hostPath");
            }
            if (volume.Block is { } block && !File.Exists(block.Path))
            {
                throw new PodManifestException($"metadata.annotations[{PodManifest.BlockVolumesAnnotation}].{volume.Name}.path", $"{block.Path} does not exist");
            }
        }
    }

    /// <summary>What kubelet does for a hostPath's type: checks the path is what the type says, or creates it.</summary>
    private static void PrepareHostPath(HostPathVolumeSource hostPath, string field)
    {
        switch (hostPath.Type)
        {
            case "" when !Path.Exists(hostPath.Path):
                throw new PodManifestException($"{field}.path", $"{hostPath.Path} does not exist");
            case "Directory" when !Directory.Exists(hostPath.Path):
                throw new PodManifestException($"{field}.path", $"{hostPath.Path} is not a directory (type Directory)");
            case "DirectoryOrCreate":
                Directory.CreateDirectory(hostPath.Path);
                break;
            case "File" when !File.Exists(hostPath.Path):
                throw new PodManifestException($"{field}.path", $"{hostPath.Path} is not a file (type File)");
            case "FileOrCreate" when !File.Exists(hostPath.Path):
                Directory.CreateDirectory(Path.GetDirectoryName(hostPath.Path)!);
                using (File.Open(hostPath.Path, FileMode.OpenOrCreate))
                {
                }
                break;
        }
    }
}
