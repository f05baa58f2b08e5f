namespace KataAgent.Rootfs.Compression;

/// <summary>How the initrd's cpio archive is compressed. The kernel must have the matching <c>CONFIG_RD_*</c>.</summary>
public enum InitrdCompression
{
    /// <summary>A plain cpio archive.</summary>
    None,

    /// <summary>gzip (<c>CONFIG_RD_GZIP</c>, built into every Debian kernel).</summary>
    Gzip,
}
