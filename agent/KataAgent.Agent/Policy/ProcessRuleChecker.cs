using System.Text.RegularExpressions;
using KataAgent.Agent.Errors;
using KataAgent.Protocols.Agent;

namespace KataAgent.Agent.Policy;

/// <summary>
/// Applies a policy's field rules to the process a request would start (and, for CreateContainer,
/// to its image, annotations and bind mounts). A refusal is PERMISSION_DENIED naming the request
/// field at fault, the RPC and the rule: <c>process.Args: ExecProcess is blocked by policy:
/// execProcess.commands does not allow "sh -c id"</c>.
/// </summary>
internal static class ProcessRuleChecker
{
    /// <summary>The CRI annotations that name a container's image (containerd's, then CRI-O's).</summary>
    public static readonly string[] ImageAnnotations = ["io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName"];

    public static void CheckCreate(CompiledProcessRules rules, CreateContainerRequest request)
    {
        const string rpc = "CreateContainer";
        var spec = request.OCI;
        if (spec is null)
        {
            // Nothing to start: the handler refuses the request as INVALID_ARGUMENT.
            return;
        }
        if (rules.Images is { } images)
        {
            string? key = ImageAnnotations.FirstOrDefault(spec.Annotations.ContainsKey);
            if (key is null)
            {
                throw Deny("OCI.Annotations", rpc, $"{rules.Section}.images needs the image name, and the spec has no {ImageAnnotations[0]} annotation");
            }
            string image = spec.Annotations[key];
            if (!GlobPattern.AnyMatch(images, image))
            {
                throw Deny($"OCI.Annotations[\"{key}\"]", rpc, $"{rules.Section}.images does not allow image \"{image}\"");
            }
        }
        if (rules.Annotations is { } allowedKeys)
        {
            foreach (string key in spec.Annotations.Keys.Order(StringComparer.Ordinal))
            {
                if (!GlobPattern.AnyMatch(allowedKeys, key))
                {
                    throw Deny($"OCI.Annotations[\"{key}\"]", rpc, $"{rules.Section}.annotations does not allow this annotation");
                }
            }
        }
        if (rules.BindMountSources is { } sources)
        {
            for (int i = 0; i < spec.Mounts.Count; i++)
            {
                var mount = spec.Mounts[i];
                bool bind = mount.Type == "bind" || mount.Options.Any(o => o is "bind" or "rbind");
                if (bind && !GlobPattern.AnyMatch(sources, mount.Source))
                {
                    throw Deny($"OCI.Mounts[{i}].source", rpc, $"{rules.Section}.bindMountSources does not allow a bind mount of \"{mount.Source}\"");
                }
            }
        }
        if (spec.Process is { } process)
        {
            CheckProcess(rules, process, "OCI.Process", rpc);
        }
    }

    public static void CheckExec(CompiledProcessRules rules, ExecProcessRequest request)
    {
        if (request.Process is { } process)
        {
            CheckProcess(rules, process, "process", "ExecProcess");
        }
    }

    private static void CheckProcess(CompiledProcessRules rules, Process process, string field, string rpc)
    {
        if (rules.Commands is not null || rules.CommandPatterns is not null)
        {
            string line = string.Join(' ', process.Args);
            bool allowed = (rules.Commands?.Contains(line, StringComparer.Ordinal) ?? false) || (rules.CommandPatterns?.Any(p => Matches(p, line)) ?? false);
            if (!allowed)
            {
                throw Deny($"{field}.Args", rpc, $"{rules.Section}.commands and {rules.Section}.commandPatterns do not allow \"{line}\"");
            }
        }
        if (rules.AllowedCapabilities is { } capabilities && process.Capabilities is { } sets)
        {
            foreach (var (name, values) in new[] { ("Bounding", sets.Bounding), ("Effective", sets.Effective), ("Inheritable", sets.Inheritable), ("Permitted", sets.Permitted), ("Ambient", sets.Ambient) })
            {
                for (int i = 0; i < values.Count; i++)
                {
                    if (!capabilities.Contains(PolicyParser.CapabilityName(values[i])))
                    {
                        throw Deny($"{field}.Capabilities.{name}[{i}]", rpc, $"{rules.Section}.privileged is false and {values[i]} is not among the capabilities it allows");
                    }
                }
            }
        }
        if (!rules.AllowRoot && (process.User?.UID ?? 0) == 0)
        {
            throw Deny($"{field}.User.UID", rpc, $"{rules.Section}.allowRoot is false and the process would run as uid 0");
        }
        if (!rules.AllowTerminal && process.Terminal)
        {
            throw Deny($"{field}.Terminal", rpc, $"{rules.Section}.allowTerminal is false");
        }
    }

    /// <summary>A pattern that runs past its time limit does not match: a refusal, never a hang.</summary>
    private static bool Matches(Regex pattern, string line)
    {
        try
        {
            return pattern.IsMatch(line);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static AgentException Deny(string field, string rpc, string rule) => AgentException.PermissionDenied(field, $"{rpc} is blocked by policy: {rule}");
}
