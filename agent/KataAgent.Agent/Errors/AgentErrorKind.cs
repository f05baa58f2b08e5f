namespace KataAgent.Agent.Errors;

/// <summary>
/// What went wrong, in terms a runtime can act on. The wire front ends map each kind to a status
/// once (Server/AgentErrorMapping); the core never names a wire status itself.
/// </summary>
public enum AgentErrorKind
{
    /// <summary>The request is wrong whatever the agent's state: a bad field, an unknown driver.</summary>
    InvalidArgument,

    /// <summary>The request is refused by the agent policy (SetPolicy): a denied RPC or a field a rule does not allow.</summary>
    PermissionDenied,

    /// <summary>The request names something that does not exist: a container, a process.</summary>
    NotFound,

    /// <summary>The request would create something that already exists.</summary>
    AlreadyExists,

    /// <summary>The request is valid but not in the current state (start a running container, resize a process with no terminal).</summary>
    FailedPrecondition,

    /// <summary>A limit was reached (memory, disk, a size bound).</summary>
    ResourceExhausted,

    /// <summary>The agent cannot do it now; trying again later may work.</summary>
    Unavailable,

    /// <summary>Someone else refused the caller's credentials (a registry, for a guest pull).</summary>
    Unauthenticated,

    /// <summary>The agent does not implement the operation.</summary>
    Unimplemented,

    /// <summary>Something the agent waited for did not happen in time (a hot-plugged device, a process exit).</summary>
    DeadlineExceeded,

    /// <summary>The agent failed; the request was not at fault.</summary>
    Internal,
}
