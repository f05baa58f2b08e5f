using System.Text.Json;
using KataAgent.Host.Pods.Manifests;

namespace KataAgent.Host.Pods;

public static partial class PodManifest
{
    private static readonly IReadOnlySet<string> VolumeFields = KubernetesFields.Set("name", "emptyDir", "hostPath");
    private static readonly HashSet<string> BlockVolumeKeys = ["path", "fsType", "encryption", "readOnly"];

    private static List<PodVolumeSpec> Volumes(ManifestObject spec, IReadOnlyDictionary<string, BlockVolumeSource> blockVolumes)
    {
        var volumes = new List<PodVolumeSpec>();
        foreach (var volume in spec.Objects("volumes"))
        {
            volume.Only(VolumeFields, KubernetesFields.Volume);
            string name = volume.RequiredString("name");
            var emptyDir = volume.Object("emptyDir");
            var hostPath = volume.Object("hostPath");
            if (blockVolumes.TryGetValue(name, out var block))
            {
                // The manifest stays a valid Kubernetes Pod: the volume is declared as an emptyDir (or with no
                // source, which Kubernetes makes an emptyDir), and this runtime gives it the disk instead.
                if (hostPath is not null || emptyDir?.Names.Any() == true)
                {
                    throw volume.ErrorAt(hostPath is not null ? "hostPath" : "emptyDir", $"the volume is a block volume ({BlockVolumesAnnotation}): declare it as 'emptyDir: {{}}' or with no source");
                }
                volumes.Add(new PodVolumeSpec { Name = name, Block = block });
                continue;
            }
            if (emptyDir is not null && hostPath is not null)
            {
                throw volume.Error("more than one volume source (emptyDir and hostPath)");
            }
            volumes.Add(hostPath is not null
                ? new PodVolumeSpec { Name = name, HostPath = HostPath(hostPath) }
                // Kubernetes' defaulting: a volume without a source is an emptyDir.
                : new PodVolumeSpec { Name = name, EmptyDir = emptyDir is null ? new EmptyDirVolumeSource() : EmptyDir(emptyDir) });
        }
        foreach (string name in blockVolumes.Keys)
        {
            if (!volumes.Any(v => v.Name == name))
            {
                throw new PodManifestException($"metadata.annotations[{BlockVolumesAnnotation}].{name}", $"no volume named '{name}' in spec.volumes: declare it there (emptyDir: {{}}) and mount it with volumeMounts");
            }
        }
        return volumes;
    }

    private static EmptyDirVolumeSource EmptyDir(ManifestObject emptyDir)
    {
        emptyDir.Only(KubernetesFields.EmptyDir, KubernetesFields.EmptyDir);
        bool inMemory = emptyDir.String("medium") switch
        {
            null or "" => false,
            "Memory" => true,
            var other => throw emptyDir.ErrorAt("medium", other.StartsWith("HugePages", StringComparison.Ordinal) ? "not supported (no hugepages in the VM)" : $"'{other}' is not \"\" or Memory"),
        };
        long? sizeLimit = null;
        if (emptyDir.Quantity("sizeLimit") is { } limit)
        {
            if (limit.IsNegative || limit.IsZero)
            {
                throw emptyDir.ErrorAt("sizeLimit", $"'{limit}' must be greater than zero");
            }
            try
            {
                sizeLimit = limit.ToUnits();
            }
            catch (OverflowException)
            {
                throw emptyDir.ErrorAt("sizeLimit", $"'{limit}' is too large");
            }
        }
        return new EmptyDirVolumeSource { InMemory = inMemory, SizeLimitBytes = sizeLimit };
    }

    private static HostPathVolumeSource HostPath(ManifestObject hostPath)
    {
        hostPath.Only(KubernetesFields.HostPath, KubernetesFields.HostPath);
        string type = hostPath.String("type") ?? "";
        if (type is "Socket" or "CharDevice" or "BlockDevice")
        {
            throw hostPath.ErrorAt("type", $"{type} is not supported: only directories and files cross into the VM");
        }
        return new HostPathVolumeSource { Path = hostPath.RequiredString("path"), Type = type };
    }

    /// <summary>
    /// The block-volumes annotation: a JSON object from a volume's name to
    /// <c>{"path": "/abs", "fsType": "ext4", "encryption": "ephemeral" | "key-file:/abs", "readOnly": false}</c>;
    /// only path is required. A key file holds the raw key, 32 or 64 bytes, read here and sent to the guest alone.
    /// </summary>
    private static Dictionary<string, BlockVolumeSource> BlockVolumes(ManifestObject metadata, IReadOnlyDictionary<string, string> annotations)
    {
        var result = new Dictionary<string, BlockVolumeSource>(StringComparer.Ordinal);
        if (!annotations.TryGetValue(BlockVolumesAnnotation, out string? json))
        {
            return result;
        }
        string field = $"metadata.annotations[{BlockVolumesAnnotation}]";
        using var document = ParseJson(metadata, field, json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw AnnotationError(metadata, field, "expected a JSON object from volume names to {\"path\": …}");
        }
        foreach (var volume in document.RootElement.EnumerateObject())
        {
            string path = $"{field}.{volume.Name}";
            if (volume.Value.ValueKind != JsonValueKind.Object)
            {
                throw AnnotationError(metadata, path, "expected a JSON object {\"path\": …, \"fsType\": …, \"encryption\": …, \"readOnly\": …}");
            }
            foreach (var property in volume.Value.EnumerateObject())
            {
                if (!BlockVolumeKeys.Contains(property.Name))
                {
                    throw AnnotationError(metadata, $"{path}.{property.Name}", "unknown field (path, fsType, encryption, readOnly)");
                }
            }
            if (result.ContainsKey(volume.Name))
            {
                throw AnnotationError(metadata, path, "given twice");
            }
            result[volume.Name] = new BlockVolumeSource
            {
                Path = JsonString(metadata, volume.Value, path, "path") ?? throw AnnotationError(metadata, path + ".path", "required: the host file or block device"),
                FsType = JsonString(metadata, volume.Value, path, "fsType") ?? "ext4",
                ReadOnly = volume.Value.TryGetProperty("readOnly", out var readOnly) && readOnly.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False or JsonValueKind.Null => false,
                    _ => throw AnnotationError(metadata, path + ".readOnly", "expected true or false"),
                },
                Encryption = JsonString(metadata, volume.Value, path, "encryption") is { } encryption ? Encryption(metadata, path + ".encryption", encryption) : null,
            };
        }
        return result;
    }

    private static BlockVolumeEncryption Encryption(ManifestObject metadata, string field, string value)
    {
        const string KeyFile = "key-file:";
        if (value == "ephemeral")
        {
            return new BlockVolumeEncryption { Ephemeral = true };
        }
        if (!value.StartsWith(KeyFile, StringComparison.Ordinal))
        {
            throw AnnotationError(metadata, field, $"'{value}' is not \"ephemeral\" or \"key-file:/absolute/path\"");
        }
        string path = value[KeyFile.Length..];
        if (KubernetesNames.AbsolutePathProblem(path) is { } problem)
        {
            throw AnnotationError(metadata, field, problem);
        }
        byte[] key;
        try
        {
            var info = new FileInfo(path);
            // A key is 32 or 64 bytes: refuse to read a large file by mistake (a disk image, a device).
            if (info.Exists && info.Length > 64)
            {
                throw AnnotationError(metadata, field, $"{path} has {info.Length} bytes; a key file holds the raw key, 32 or 64 bytes");
            }
            key = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AnnotationError(metadata, field, $"cannot read the key file: {e.Message}");
        }
        return key.Length is 32 or 64
            ? new BlockVolumeEncryption { Key = key }
            : throw AnnotationError(metadata, field, $"{path} has {key.Length} bytes; a key file holds the raw key, 32 or 64 bytes");
    }

    private static string? JsonString(ManifestObject metadata, JsonElement parent, string path, string name)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw AnnotationError(metadata, $"{path}.{name}", "expected a string");
    }

    private static JsonDocument ParseJson(ManifestObject metadata, string field, string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw AnnotationError(metadata, field, $"not JSON: {e.Message}");
        }
    }

    // Annotations are strings inside the manifest: the error points at the annotations' mapping line.
    private static PodManifestException AnnotationError(ManifestObject metadata, string field, string message) =>
        new(field, message, metadata.Has("annotations") ? metadata.Object("annotations")!.Line : metadata.Line, file: null);
}
