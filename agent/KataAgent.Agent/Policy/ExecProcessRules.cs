namespace KataAgent.Agent.Policy;

/// <summary>ExecProcess's field rules: those of <see cref="ProcessRules"/>, and whether a terminal may be asked for.</summary>
internal sealed class ExecProcessRules : ProcessRules
{
    /// <summary>False refuses an exec with <c>process.Terminal</c> set (an interactive shell).</summary>
    public bool? AllowTerminal { get; set; }
}
