namespace KataAgent.Host.Pods;

/// <summary>A raw disk (a host file or block device) handed to the VM as it is; the guest formats it on first use and mounts it, the host never mounts it.</summary>
public sealed record BlockVolumeSource
{
    /// <summary>The host file or block device.</summary>
    public required string Path { get; init; }

    /// <summary>The filesystem the guest makes and mounts.</summary>
    public string FsType { get; init; } = "ext4";

    /// <summary>dm-crypt in the guest; null for a plain volume.</summary>
    public BlockVolumeEncryption? Encryption { get; init; }

    /// <summary>Mount read-only.</summary>
    public bool ReadOnly { get; init; }
}
