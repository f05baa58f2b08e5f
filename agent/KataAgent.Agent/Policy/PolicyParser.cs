using System.Text.Json;
using System.Text.RegularExpressions;
using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Policy;

/// <summary>
/// Turns a policy text into a <see cref="CompiledPolicy"/>, or refuses it naming the field:
/// INVALID_ARGUMENT for a document that is not valid (bad JSON, an unknown field, a value out of
/// its domain), FAILED_PRECONDITION for a Rego policy (Kata's format, which this agent does not
/// evaluate). Nothing is half-applied: the text is validated whole before it can replace anything.
/// </summary>
internal static class PolicyParser
{
    /// <summary>The request field every refusal names.</summary>
    public const string Field = "policy";

    /// <summary>Where the format is documented, for messages.</summary>
    public const string Documentation = "docs/POLICY.md";

    private static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);

    public static CompiledPolicy Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw AgentException.InvalidArgument(Field, $"is empty; a policy is a JSON document ({Documentation})");
        }
        if (LooksLikeRego(text))
        {
            throw AgentException.FailedPrecondition(Field,
                $"is a Rego policy (Kata's agent_policy format); this agent enforces a JSON policy document of its own, described in {Documentation}");
        }
        PolicyDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(text, PolicyJsonContext.Default.PolicyDocument);
        }
        catch (JsonException e)
        {
            throw AgentException.InvalidArgument(Field, Describe(e));
        }
        if (document is null)
        {
            throw AgentException.InvalidArgument(Field, "is null; expected a JSON object");
        }
        return Compile(document);
    }

    /// <summary>A Rego module starts with a <c>package</c> clause (after comments); JSON starts with <c>{</c>.</summary>
    private static bool LooksLikeRego(string text)
    {
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            return line.StartsWith("package ", StringComparison.Ordinal) || line.StartsWith("package\t", StringComparison.Ordinal);
        }
        return false;
    }

    /// <summary>"execProcess.comands: unknown field (line 3)" from System.Text.Json's exception.</summary>
    private static string Describe(JsonException e)
    {
        string path = e.Path is { Length: > 1 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : e.Path ?? "";
        string where = e.LineNumber is { } line ? $" (line {line + 1})" : "";
        // The agent is built with UseSystemResourceKeys: messages may be resource keys
        // ("UnmappedJsonProperty, comands, …") rather than sentences, so both forms are recognised.
        string message = e.Message;
        string problem;
        if (message.Contains("UnmappedJsonProperty", StringComparison.Ordinal) || message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            problem = $"unknown field; see {Documentation} for the fields a policy may have";
        }
        else if (message.Contains("UnableToConvert", StringComparison.Ordinal) || message.Contains("could not be converted", StringComparison.Ordinal))
        {
            string type =
                message.Contains("List`1", StringComparison.Ordinal) ? "an array of strings"
                : message.Contains("Dictionary`2", StringComparison.Ordinal) ? "an object of strings"
                : message.Contains("ExecProcessRules", StringComparison.Ordinal) || message.Contains("CreateContainerRules", StringComparison.Ordinal) || message.Contains("PolicyDocument", StringComparison.Ordinal) ? "an object"
                : message.Contains("System.Boolean", StringComparison.Ordinal) ? "a boolean"
                : message.Contains("System.Int32", StringComparison.Ordinal) ? "an integer"
                : message.Contains("System.String", StringComparison.Ordinal) ? "a string"
                : "a value of another type";
            problem = $"expected {type}";
        }
        else
        {
            string detail = message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0];
            problem = $"is not valid JSON ({detail})";
        }
        return path.Length == 0 ? $"{problem}{where}" : $"{path}: {problem}{where}";
    }

    private static CompiledPolicy Compile(PolicyDocument document)
    {
        if (document.Version is not 1)
        {
            throw Invalid("version", document.Version is null ? "is missing; this format is version 1" : $"{document.Version} is not a known version; this format is version 1");
        }
        bool defaultAllow = Decision(document.Default, "default", missing: "is missing; say \"allow\" or \"deny\" for the RPCs rpcs does not name");
        var rpcs = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (name, value) in document.Rpcs ?? [])
        {
            if (!PolicyRpcs.Names.Contains(name))
            {
                string hint = name is "Check" or "Version" ? "grpc.Health is never subject to the policy" : "no such RPC (names are grpc.AgentService's and kataagent.v1's methods, e.g. ExecProcess)";
                throw Invalid($"rpcs.{name}", hint);
            }
            rpcs[name] = Decision(value, $"rpcs.{name}", missing: "is null; say \"allow\" or \"deny\"");
        }
        var create = document.CreateContainer is { } c ? Rules("createContainer", c, c.Images, c.Annotations, c.BindMountSources, allowTerminal: true) : null;
        var exec = document.ExecProcess is { } x ? Rules("execProcess", x, null, null, null, x.AllowTerminal ?? true) : null;
        return new CompiledPolicy(document, defaultAllow, rpcs, create, exec);
    }

    private static CompiledProcessRules Rules(string section, ProcessRules rules, List<string>? images, List<string>? annotations, List<string>? bindMountSources, bool allowTerminal)
    {
        Regex[]? patterns = null;
        if (rules.CommandPatterns is { } texts)
        {
            patterns = new Regex[texts.Count];
            for (int i = 0; i < texts.Count; i++)
            {
                try
                {
                    patterns[i] = new Regex($@"\A(?:{texts[i]})\z", RegexOptions.CultureInvariant, PatternTimeout);
                }
                catch (ArgumentException e)
                {
                    throw Invalid($"{section}.commandPatterns[{i}]", $"is not a valid regular expression: {e.Message}");
                }
            }
        }
        if (rules.Privileged is true && rules.Capabilities is not null)
        {
            throw Invalid($"{section}.capabilities", "restricts capabilities, but privileged is true (which allows all); set privileged to false or drop capabilities");
        }
        HashSet<string>? allowed = null;
        if (rules.Privileged is false || rules.Capabilities is not null)
        {
            allowed = new HashSet<string>(StringComparer.Ordinal);
            var names = rules.Capabilities ?? [.. CompiledPolicy.DefaultCapabilities];
            for (int i = 0; i < names.Count; i++)
            {
                string field = $"{section}.capabilities[{i}]";
                string name = CapabilityName(names[i]);
                // LinuxNames knows every capability the kernel has; reuse it so a typo is refused.
                try
                {
                    Containers.Spec.LinuxNames.CapabilityMask([name], field);
                }
                catch (AgentException e)
                {
                    throw Invalid(field, e.Problem);
                }
                allowed.Add(name);
            }
        }
        Require(rules.Commands, $"{section}.commands");
        Require(images, $"{section}.images");
        Require(annotations, $"{section}.annotations");
        Require(bindMountSources, $"{section}.bindMountSources");
        return new CompiledProcessRules(section, rules.Commands, patterns, allowed, rules.AllowRoot ?? true, allowTerminal, images, annotations, bindMountSources);
    }

    /// <summary>"sys_admin" and "CAP_SYS_ADMIN" are the same capability.</summary>
    public static string CapabilityName(string name)
    {
        string upper = name.Trim().ToUpperInvariant();
        return upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
    }

    private static void Require(List<string>? values, string field)
    {
        if (values is null)
        {
            return;
        }
        for (int i = 0; i < values.Count; i++)
        {
            if (values[i] is null)
            {
                throw Invalid($"{field}[{i}]", "is null; expected a string");
            }
        }
    }

    private static bool Decision(string? value, string field, string missing) => value switch
    {
        "allow" => true,
        "deny" => false,
        null => throw Invalid(field, missing),
        _ => throw Invalid(field, $"\"{value}\" is neither \"allow\" nor \"deny\""),
    };

    private static AgentException Invalid(string path, string problem) => AgentException.InvalidArgument(Field, $"{path}: {problem}");
}
