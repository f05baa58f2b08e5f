namespace KataAgent.Host.Sandboxes;

/// <summary>How <see cref="Sandbox.CreateContainerAsync"/> gives a container its rootfs directory (<see cref="SandboxOptions.RootfsMode"/>).</summary>
public enum RootfsMode
{
    /// <summary>
    /// Shared as it is, over the sandbox's virtio-fs share (Kata's layout: bind-mounted into the share on the host,
    /// <c>Root.Path</c> rewritten to its guest path, no Storage). Nothing is copied; a write in the container is a
    /// write in the directory. The default.
    /// </summary>
    VirtioFs,

    /// <summary>
    /// Packed into an ext4 image (<c>mkfs.ext4 -d</c>), hot-plugged over virtio-blk and mounted by the agent's <c>blk</c>
    /// driver. A copy: the directory is never written. What a VM snapshot can carry: qemu 7.2 refuses to migrate
    /// (or snapshot) a VM with any vhost-user device, and virtio-fs is one.
    /// </summary>
    Blk,
}
