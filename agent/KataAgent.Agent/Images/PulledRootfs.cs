namespace KataAgent.Agent.Images;

/// <summary>A rootfs guest pull unpacked for a container, and what holds it.</summary>
/// <param name="ContainerId">The container it is for.</param>
/// <param name="Image">The reference it was pulled by.</param>
/// <param name="Directory">The unpacked rootfs (bind-mounted on the container's rootfs mount point).</param>
/// <param name="MemoryMount">The pull's own tmpfs (unmounted with it), or null on a disk.</param>
/// <param name="DiskMount">The scratch disk's mount it lies on (shared by the disk's pulls), or null in memory.</param>
internal sealed record PulledRootfs(string ContainerId, string Image, string Directory, string? MemoryMount, string? DiskMount)
{
    /// <summary>Whether a storage has taken it over (CreateContainer); then the storage's release removes it.</summary>
    public bool Adopted { get; set; }
}
