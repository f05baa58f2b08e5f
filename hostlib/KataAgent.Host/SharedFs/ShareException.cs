namespace KataAgent.Host.SharedFs;

/// <summary>
/// A sandbox's shared directory (virtio-fs) failed on the host: its layout could not be made, a rootfs or volume
/// could not be bound into it or taken out of it, a state directory could not be deleted without crossing a mount,
/// or the share's virtiofsd exited while the sandbox ran. The message says which and why.
/// </summary>
public sealed class ShareException : KataAgentException
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public ShareException(string message, Exception? innerException = null)
        : base(KataAgentErrorKind.Share, message, innerException)
    {
    }
}
