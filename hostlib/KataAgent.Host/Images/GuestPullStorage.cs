namespace KataAgent.Host.Images;

/// <summary>Where a guest pull puts the image's layers and rootfs, inside the VM.</summary>
public enum GuestPullStorage
{
    /// <summary>A tmpfs in guest memory: nothing of the image touches the host. For images smaller than the guest's RAM allows.</summary>
    Memory,

    /// <summary>
    /// A scratch ext4 disk the host creates empty in the sandbox's state directory and hot-plugs; the guest writes the
    /// layers and rootfs onto it. Room for large images, but the disk's file is on the host: the image's bytes are in
    /// it (the host never reads or unpacks them, but could).
    /// </summary>
    ScratchDisk,
}
