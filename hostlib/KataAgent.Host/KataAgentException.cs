namespace KataAgent.Host;

/// <summary>
/// The base of every exception the host library throws on purpose, so that a caller can catch one type and
/// branch on <see cref="Kind"/>. Outside the family stay: <see cref="ArgumentException"/> (and its
/// <see cref="ArgumentNullException"/>, <see cref="ArgumentOutOfRangeException"/>) for bad arguments,
/// <see cref="FileNotFoundException"/>/<see cref="DirectoryNotFoundException"/> for an input path that does not
/// exist, <see cref="FormatException"/> for text that does not parse, <see cref="OperationCanceledException"/> for a
/// cancelled call, <see cref="ObjectDisposedException"/> for a disposed object, and <see cref="IOException"/> from
/// the members of a <see cref="Stream"/> (a process's stdio), as the Stream contract asks. The generated gRPC
/// clients (<see cref="AgentClient.Agent"/>, <see cref="AgentClient.Health"/>, <see cref="AgentClient.CallInvoker"/>)
/// are gRPC's own layer and throw gRPC's <c>RpcException</c>.
/// </summary>
public abstract class KataAgentException : Exception
{
    /// <summary>An exception of kind <paramref name="kind"/>.</summary>
    protected KataAgentException(KataAgentErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>What kind of failure this is.</summary>
    public KataAgentErrorKind Kind { get; }
}
