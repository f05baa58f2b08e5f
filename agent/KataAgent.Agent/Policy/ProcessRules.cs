namespace KataAgent.Agent.Policy;

/// <summary>
/// Rules on a process to be started (a container's init process or an exec). A rule left out
/// (null) does not restrict.
/// </summary>
internal class ProcessRules
{
    /// <summary>Allowed command lines: the process's args joined by single spaces, compared exactly.</summary>
    public List<string>? Commands { get; set; }

    /// <summary>Allowed command lines as regular expressions that must match the whole joined line.</summary>
    public List<string>? CommandPatterns { get; set; }

    /// <summary>
    /// False refuses a privileged process: one holding, in any of its capability sets, a
    /// capability outside <see cref="Capabilities"/> (default: the container runtimes' default set).
    /// </summary>
    public bool? Privileged { get; set; }

    /// <summary>The capabilities an unprivileged process may hold (names as in OCI, "CAP_…").</summary>
    public List<string>? Capabilities { get; set; }

    /// <summary>False refuses a process that runs as uid 0.</summary>
    public bool? AllowRoot { get; set; }
}
