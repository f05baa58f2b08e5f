using System.Text.RegularExpressions;

namespace KataAgent.Agent.Policy;

/// <summary>A validated <see cref="PolicyDocument"/>: decisions resolved, patterns compiled. Immutable.</summary>
internal sealed class CompiledPolicy
{
    /// <summary>The capabilities containerd and Docker give a container by default: what "not privileged" allows unless the policy lists others.</summary>
    public static readonly IReadOnlyList<string> DefaultCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    public CompiledPolicy(PolicyDocument document, bool defaultAllow, IReadOnlyDictionary<string, bool> rpcs,
        CompiledProcessRules? createContainer, CompiledProcessRules? execProcess)
    {
        Document = document;
        DefaultAllow = defaultAllow;
        Rpcs = rpcs;
        CreateContainer = createContainer;
        ExecProcess = execProcess;
    }

    /// <summary>
    /// What the agent enforces when its boot policy cannot be read or is invalid: every RPC denied
    /// but SetPolicy, through which a valid policy can still be installed (Kata's "closed door"
    /// baseline of its strict builds). Failing open would give a host what the image meant to refuse.
    /// </summary>
    public static CompiledPolicy ClosedDoor { get; } = new(
        new PolicyDocument { Version = 1, Default = "deny", Rpcs = new() { ["SetPolicy"] = "allow" } },
        defaultAllow: false, new Dictionary<string, bool> { ["SetPolicy"] = true }, null, null);

    public PolicyDocument Document { get; }

    public bool DefaultAllow { get; }

    public IReadOnlyDictionary<string, bool> Rpcs { get; }

    public CompiledProcessRules? CreateContainer { get; }

    public CompiledProcessRules? ExecProcess { get; }

    /// <summary>Whether <paramref name="rpc"/> is allowed, and the rule that decided it (<c>rpcs.X</c> or <c>default</c>).</summary>
    public bool Allows(string rpc, out string rule)
    {
        if (Rpcs.TryGetValue(rpc, out bool allow))
        {
            rule = $"rpcs.{rpc}";
            return allow;
        }
        rule = "default";
        return DefaultAllow;
    }
}

/// <summary>The compiled field rules of one section (<c>createContainer</c> or <c>execProcess</c>).</summary>
/// <param name="Section">The section's name in the document, for messages.</param>
/// <param name="Commands">Allowed joined command lines, or null.</param>
/// <param name="CommandPatterns">Allowed command-line patterns (anchored), or null.</param>
/// <param name="AllowedCapabilities">Upper-case capability names a process may hold, or null for any.</param>
/// <param name="AllowRoot">Whether uid 0 is allowed.</param>
/// <param name="AllowTerminal">Whether a terminal is allowed (exec only).</param>
/// <param name="Images">Allowed image globs, or null (create only).</param>
/// <param name="Annotations">Allowed annotation-key globs, or null (create only).</param>
/// <param name="BindMountSources">Allowed bind-mount source globs, or null (create only).</param>
internal sealed record CompiledProcessRules(
    string Section,
    IReadOnlyList<string>? Commands,
    IReadOnlyList<Regex>? CommandPatterns,
    IReadOnlySet<string>? AllowedCapabilities,
    bool AllowRoot,
    bool AllowTerminal,
    IReadOnlyList<string>? Images,
    IReadOnlyList<string>? Annotations,
    IReadOnlyList<string>? BindMountSources);
