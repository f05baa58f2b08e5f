namespace KataAgent.Helpers;

/// <summary>
/// A mode of kata-agent-init, the agent's spawn-chain helper: <c>kata-agent-init NAME ARGS…</c> (see
/// <see cref="HelperMain"/>). The agent starts it with posix_spawn (never by fork); a mode runs before anything else,
/// because some are PID 1 of their own PID namespace, where nothing may start a thread or touch the console.
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
