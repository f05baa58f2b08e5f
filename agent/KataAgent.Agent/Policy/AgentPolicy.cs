using KataAgent.Agent.Errors;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Policy;

/// <summary>
/// The policy in force and its one check, which every front end runs before a governed RPC's
/// handler (Server/Binding/PolicyGate). Without a policy everything is allowed, as in a Kata
/// agent built without its policy feature. A policy replaces the previous one whole; SetPolicy is
/// itself an RPC the policy in force decides on, as Kata's <c>SetPolicyRequest</c> rule does, so
/// a policy can forbid its own replacement.
/// </summary>
internal sealed class AgentPolicy(ILogger<AgentPolicy> logger)
{
    private volatile CompiledPolicy? _current;

    /// <summary>Whether a policy is in force.</summary>
    public bool IsSet => _current is not null;

    /// <summary>
    /// Validates <paramref name="text"/> and makes it the policy in force. Throws an
    /// <see cref="AgentException"/> naming the field (INVALID_ARGUMENT), or FAILED_PRECONDITION for Rego;
    /// the policy in force stays as it was then.
    /// </summary>
    public void Set(string text)
    {
        var policy = PolicyParser.Parse(text);
        _current = policy;
        logger.LogInformation("agent policy set: default {Default}, {Rules} RPC rule(s){Fields}",
            policy.DefaultAllow ? "allow" : "deny", policy.Rpcs.Count,
            (policy.CreateContainer, policy.ExecProcess) switch
            {
                (null, null) => "",
                (not null, null) => ", createContainer rules",
                (null, not null) => ", execProcess rules",
                _ => ", createContainer and execProcess rules",
            });
    }

    /// <summary>
    /// Loads the boot policy file. A file that cannot be read or does not validate leaves the
    /// closed-door policy in force (everything denied but SetPolicy), never no policy: an image
    /// that ships a policy meant to restrict.
    /// </summary>
    public void LoadBootPolicy(string path)
    {
        try
        {
            Set(File.ReadAllText(path));
            logger.LogInformation("agent policy loaded from {Path}", path);
        }
        catch (Exception e) when (e is AgentException or IOException or UnauthorizedAccessException)
        {
            _current = CompiledPolicy.ClosedDoor;
            logger.LogError("agent policy {Path} not loaded ({Error}); every RPC but SetPolicy is denied until a valid policy is set", path, e.Message);
        }
    }

    /// <summary>
    /// Throws PERMISSION_DENIED when the policy in force refuses a call of <paramref name="service"/>/
    /// <paramref name="method"/> with <paramref name="message"/>: the request of a unary call, a
    /// message read from a stream, or null at the start of a streaming call.
    /// </summary>
    public void Check(string service, string method, object? message)
    {
        if (_current is not { } policy || !PolicyRpcs.Governs(service))
        {
            return;
        }
        try
        {
            Enforce(policy, method, message);
        }
        catch (AgentException e) when (e.Kind == AgentErrorKind.PermissionDenied)
        {
            // Every refusal is an audit record, whatever the front end logs of the status.
            logger.LogWarning("agent policy: {Service}/{Method} refused: {Reason}", service, method, e.Message);
            throw;
        }
    }

    private static void Enforce(CompiledPolicy policy, string method, object? message)
    {
        Require(policy, method, method);
        switch (message)
        {
            case CreateContainerRequest create when policy.CreateContainer is { } rules:
                ProcessRuleChecker.CheckCreate(rules, create);
                break;
            case ExecProcessRequest exec when policy.ExecProcess is { } rules:
                ProcessRuleChecker.CheckExec(rules, exec);
                break;
            case null when method == nameof(Streaming.StreamingBase.Attach):
                // Attach carries what ReadStdout and ReadStderr would: it must not be a way around them.
                Require(policy, "ReadStdout", method);
                Require(policy, "ReadStderr", method);
                break;
            case AttachRequest attach:
                switch (attach.KindCase)
                {
                    case AttachRequest.KindOneofCase.Stdin:
                        Require(policy, "WriteStdin", method);
                        break;
                    case AttachRequest.KindOneofCase.CloseStdin:
                        Require(policy, "CloseStdin", method);
                        break;
                    case AttachRequest.KindOneofCase.Resize:
                        Require(policy, "TtyWinResize", method);
                        break;
                }
                break;
        }
    }

    private static void Require(CompiledPolicy policy, string rpc, string calledAs)
    {
        if (!policy.Allows(rpc, out string rule))
        {
            string what = rpc == calledAs ? "" : $" (it does what {rpc} does)";
            throw AgentException.PermissionDenied(null, $"{calledAs} is blocked by policy: {rule} is deny{what}");
        }
    }
}
