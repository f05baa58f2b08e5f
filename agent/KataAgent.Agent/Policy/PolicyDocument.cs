namespace KataAgent.Agent.Policy;

/// <summary>
/// The agent policy as SetPolicy (or the boot policy file) carries it: JSON, documented in
/// docs/POLICY.md. Every RPC is allowed or denied by name (<see cref="Rpcs"/>, else
/// <see cref="Default"/>); CreateContainer and ExecProcess, when allowed, must also pass the field
/// rules of <see cref="CreateContainer"/> and <see cref="ExecProcess"/>.
/// </summary>
internal sealed class PolicyDocument
{
    /// <summary>The format's version; 1 is the only one.</summary>
    public int? Version { get; set; }

    /// <summary>"allow" or "deny": the decision for every RPC <see cref="Rpcs"/> does not name.</summary>
    public string? Default { get; set; }

    /// <summary>RPC name (e.g. "ExecProcess", "Attach") → "allow" or "deny".</summary>
    public Dictionary<string, string>? Rpcs { get; set; }

    /// <summary>Field rules for CreateContainer; null: none.</summary>
    public CreateContainerRules? CreateContainer { get; set; }

    /// <summary>Field rules for ExecProcess; null: none.</summary>
    public ExecProcessRules? ExecProcess { get; set; }
}
