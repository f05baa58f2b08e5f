namespace KataAgent.Agent.Errors;

/// <summary>
/// The one error the agent's core throws on purpose: a <see cref="Kind"/>, the request field at fault
/// when there is one, and what is wrong. The message is worded one way everywhere, "FIELD: PROBLEM",
/// so whichever front end answers (gRPC today, ttrpc next) shows the runtime the same text.
/// </summary>
public class AgentException : Exception
{
    /// <summary>An error of <paramref name="kind"/>; <paramref name="field"/> (e.g. <c>storages[0].source</c>) leads the message when given.</summary>
    public AgentException(AgentErrorKind kind, string? field, string problem, Exception? inner = null)
        : base(field is null ? problem : $"{field}: {problem}", inner)
    {
        Kind = kind;
        Field = field;
        Problem = problem;
    }

    /// <summary>What kind of failure this is; decides the status a front end answers with.</summary>
    public AgentErrorKind Kind { get; }

    /// <summary>The request field at fault (a path such as <c>OCI.Mounts[2].destination</c>), or null.</summary>
    public string? Field { get; }

    /// <summary>The problem, without the field.</summary>
    public string Problem { get; }

    /// <summary>INVALID_ARGUMENT, "FIELD: PROBLEM".</summary>
    public static AgentException InvalidArgument(string field, string problem) => new(AgentErrorKind.InvalidArgument, field, problem);

    /// <summary>PERMISSION_DENIED, "FIELD: PROBLEM" (or just the problem when no field applies): the agent policy refuses it.</summary>
    public static AgentException PermissionDenied(string? field, string problem) => new(AgentErrorKind.PermissionDenied, field, problem);

    /// <summary>NOT_FOUND, "FIELD: PROBLEM".</summary>
    public static AgentException NotFound(string field, string problem) => new(AgentErrorKind.NotFound, field, problem);

    /// <summary>ALREADY_EXISTS, "FIELD: PROBLEM" (or just the problem when no field applies).</summary>
    public static AgentException AlreadyExists(string? field, string problem) => new(AgentErrorKind.AlreadyExists, field, problem);

    /// <summary>FAILED_PRECONDITION, "FIELD: PROBLEM" (or just the problem when no field applies).</summary>
    public static AgentException FailedPrecondition(string? field, string problem) => new(AgentErrorKind.FailedPrecondition, field, problem);

    /// <summary>DEADLINE_EXCEEDED, "FIELD: PROBLEM" (or just the problem when no field applies).</summary>
    public static AgentException DeadlineExceeded(string? field, string problem) => new(AgentErrorKind.DeadlineExceeded, field, problem);

    /// <summary>INTERNAL with <paramref name="problem"/>: the agent failed, not the request.</summary>
    public static AgentException Internal(string problem, Exception? inner = null) => new(AgentErrorKind.Internal, null, problem, inner);
}
