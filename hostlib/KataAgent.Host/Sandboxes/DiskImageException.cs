namespace KataAgent.Host.Sandboxes;

/// <summary>A rootfs directory could not be packed into an ext4 image (mkfs.ext4 missing or failing); the message says why.</summary>
public sealed class DiskImageException : KataAgentException
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public DiskImageException(string message, Exception? innerException = null)
        : base(KataAgentErrorKind.DiskImage, message, innerException)
    {
    }
}
