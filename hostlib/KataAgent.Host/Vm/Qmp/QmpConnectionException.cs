namespace KataAgent.Host.Vm;

/// <summary>qemu's QMP socket could not be reached, did not greet as QMP, or closed: the command's fate is unknown.</summary>
public sealed class QmpConnectionException : KataAgentException
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public QmpConnectionException(string message, Exception? innerException = null)
        : base(KataAgentErrorKind.Qmp, message, innerException)
    {
    }
}
