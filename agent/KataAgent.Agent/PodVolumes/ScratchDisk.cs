namespace KataAgent.Agent.PodVolumes;

/// <summary>A pod's scratch disk, mounted once while any disk-backed emptyDir uses it.</summary>
internal sealed class ScratchDisk(string pciPath, string mountPoint)
{
    public string PciPath { get; } = pciPath;

    /// <summary>Where its ext4 filesystem is mounted.</summary>
    public string MountPoint { get; } = mountPoint;

    /// <summary>The emptyDirs' directory on it: images and unlimited directories.</summary>
    public string EmptyDirRoot => Path.Combine(MountPoint, "kataagent-emptydir");

    /// <summary>Volumes using it.</summary>
    public int Users { get; set; }
}
