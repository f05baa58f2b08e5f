namespace KataAgent.Agent;

/// <summary>
/// A mode in which the agent binary runs as a short-lived helper process instead of the agent:
/// <c>kata-agent NAME ARGS…</c>. The agent starts these from /proc/self/exe (never by fork); they
/// run before anything else, because some are PID 1 of their own PID namespace, where nothing may
/// start a thread or touch the console.
/// </summary>
internal interface IHelperMode
{
    /// <summary>The first command-line argument that selects this mode.</summary>
    string Name { get; }

    /// <summary>How many arguments follow the name.</summary>
    int ArgumentCount { get; }

    /// <summary>Runs the helper with the arguments after the name; returns the exit code.</summary>
    int Run(IReadOnlyList<string> arguments);
}
