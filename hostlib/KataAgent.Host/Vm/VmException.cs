namespace KataAgent.Host.Vm;

/// <summary>
/// A VM could not do what was asked, or is not there: no VM state in a directory, its qemu not running or
/// not startable, no free hot-plug slot, no disk at a PCI path, a disk the guest did not release in time, a
/// stale qemu that would not die.
/// </summary>
public sealed class VmException : KataAgentException
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public VmException(string message, Exception? innerException = null)
        : base(KataAgentErrorKind.Vm, message, innerException)
    {
    }
}
