namespace KataAgent.Shim.Tasks;

/// <summary>The task service refusing a call; <see cref="TaskStatusMapper"/> translates it once, at the ttrpc edge.</summary>
internal sealed class TaskException : Exception
{
    public TaskException(TaskErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    /// <summary>What kind of refusal this is.</summary>
    public TaskErrorKind Kind { get; }

    public static TaskException NotFound(string message) => new(TaskErrorKind.NotFound, message);

    public static TaskException AlreadyExists(string message) => new(TaskErrorKind.AlreadyExists, message);

    public static TaskException InvalidArgument(string field, string problem) => new(TaskErrorKind.InvalidArgument, $"{field}: {problem}");

    public static TaskException FailedPrecondition(string message) => new(TaskErrorKind.FailedPrecondition, message);

    public static TaskException Unimplemented(string message) => new(TaskErrorKind.Unimplemented, message);
}
