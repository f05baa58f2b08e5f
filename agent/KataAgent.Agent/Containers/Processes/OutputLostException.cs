namespace KataAgent.Agent.Containers.Processes;

/// <summary>
/// A resume asked for output from before what the <see cref="OutputBuffer"/> still keeps: those bytes were sent and
/// are gone. <see cref="ParamName"/> names the offset that asked for them.
/// </summary>
public sealed class OutputLostException(string paramName, string message) : InvalidOperationException(message)
{
    /// <summary>The parameter holding the offset that was refused.</summary>
    public string ParamName { get; } = paramName;
}
