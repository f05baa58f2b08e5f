namespace KataAgent.Shim.Tasks;

/// <summary>What kind of refusal a <see cref="TaskException"/> is; the ttrpc edge turns it into a gRPC code containerd maps.</summary>
internal enum TaskErrorKind
{
    /// <summary>No such task or process (gRPC NotFound).</summary>
    NotFound,

    /// <summary>The task or exec id is taken (gRPC AlreadyExists).</summary>
    AlreadyExists,

    /// <summary>A request field is wrong; the message names it (gRPC InvalidArgument).</summary>
    InvalidArgument,

    /// <summary>The task is not in a state that allows the call (gRPC FailedPrecondition).</summary>
    FailedPrecondition,

    /// <summary>The shim does not do this (gRPC Unimplemented, containerd's ErrNotImplemented).</summary>
    Unimplemented,
}
