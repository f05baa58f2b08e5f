namespace KataAgent.Host.Checkpoints;

/// <summary>
/// A sandbox could not be checkpointed or restored: a device that cannot migrate (named, with the option that avoids
/// it), a checkpoint directory that is corrupt, truncated, of another format or missing a file (the file named), a
/// migration qemu failed or refused, or a restored VM whose agent did not come back. Raised before anything was
/// stopped or started wherever the check allows it; what was started is gone again when it is thrown.
/// </summary>
public sealed class CheckpointException : KataAgentException
{
    /// <summary>A failure described by <paramref name="message"/>.</summary>
    public CheckpointException(string message, Exception? innerException = null)
        : base(KataAgentErrorKind.Checkpoint, message, innerException)
    {
    }
}
