namespace KataAgent.Agent.PodVolumes;

/// <summary>
/// What one pod volume holds in the guest, filled in as each piece is set up, so that tearing down (after success, or
/// half-way through a failed set-up) undoes exactly what exists. Every step of <see cref="GuestVolumes"/>' teardown
/// tolerates a piece that is already gone.
/// </summary>
internal sealed class VolumeHandle(string podId, string name, string mountPoint)
{
    public string PodId { get; } = podId;

    public string Name { get; } = name;

    /// <summary>/run/kata-containers/pod-volumes/POD/NAME: where the volume is mounted, made by the set-up.</summary>
    public string MountPoint { get; } = mountPoint;

    /// <summary>The directory containers see (the mount point, or a directory inside it or on the scratch disk).</summary>
    public string? Path { get; set; }

    /// <summary>Something is mounted on <see cref="MountPoint"/>.</summary>
    public bool Mounted { get; set; }

    /// <summary>A dm-crypt mapping of this volume, by name.</summary>
    public string? MappingName { get; set; }

    /// <summary>An emptyDir's ext4 image on the scratch filesystem.</summary>
    public string? ImagePath { get; set; }

    /// <summary>The loop device over <see cref="ImagePath"/>, by number.</summary>
    public int? LoopNumber { get; set; }

    /// <summary>An emptyDir without a size limit: a directory on the scratch filesystem, deleted with the volume.</summary>
    public string? ScratchDirectory { get; set; }

    /// <summary>The scratch disk this volume holds a use of (its PCI path).</summary>
    public string? ScratchKey { get; set; }
}
