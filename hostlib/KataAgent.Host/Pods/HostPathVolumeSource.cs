namespace KataAgent.Host.Pods;

/// <summary>hostPath: a path on the host.</summary>
public sealed record HostPathVolumeSource
{
    /// <summary>path: absolute, on the host.</summary>
    public required string Path { get; init; }

    /// <summary>type: "", Directory, DirectoryOrCreate, File, FileOrCreate.</summary>
    public string Type { get; init; } = "";
}
