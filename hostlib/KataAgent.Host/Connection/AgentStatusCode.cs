namespace KataAgent.Host;

/// <summary>The status an agent answered a call with: gRPC's status codes, with gRPC's numeric values.</summary>
public enum AgentStatusCode
{
    /// <summary>Not an error.</summary>
    OK = 0,

    /// <summary>The call was cancelled (typically by the caller).</summary>
    Cancelled = 1,

    /// <summary>An error that fits no other code.</summary>
    Unknown = 2,

    /// <summary>The request is wrong whatever the state (the message names the field).</summary>
    InvalidArgument = 3,

    /// <summary>The deadline passed before the call completed (the agent's own wait, or the client's deadline).</summary>
    DeadlineExceeded = 4,

    /// <summary>No such container, process, interface, ….</summary>
    NotFound = 5,

    /// <summary>It exists already.</summary>
    AlreadyExists = 6,

    /// <summary>Not allowed.</summary>
    PermissionDenied = 7,

    /// <summary>Out of some resource.</summary>
    ResourceExhausted = 8,

    /// <summary>The state does not allow it (e.g. the container is not running).</summary>
    FailedPrecondition = 9,

    /// <summary>Aborted, typically by a concurrent operation.</summary>
    Aborted = 10,

    /// <summary>Past a valid range.</summary>
    OutOfRange = 11,

    /// <summary>The agent does not implement the call.</summary>
    Unimplemented = 12,

    /// <summary>An internal error of the agent.</summary>
    Internal = 13,

    /// <summary>The agent cannot be reached, or the connection broke.</summary>
    Unavailable = 14,

    /// <summary>Data was lost.</summary>
    DataLoss = 15,

    /// <summary>No valid credentials.</summary>
    Unauthenticated = 16,
}
