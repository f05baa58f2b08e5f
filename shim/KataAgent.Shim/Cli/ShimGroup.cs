using System.Text.Json;

namespace KataAgent.Shim.Cli;

/// <summary>
/// Which shim serves a task: containers of a pod share their sandbox's shim (and VM). The grouping is the one
/// Kata's <c>getAddress</c> and runc's manager use: a task whose OCI annotations say it is a pod's container
/// (containerd CRI's <c>io.kubernetes.cri.container-type=container</c>, CRI-O's
/// <c>io.kubernetes.cri-o.ContainerType=container</c>) belongs to the sandbox its annotations name; anything else
/// (the pod sandbox itself, a lone <c>ctr run</c> task) is its own group.
/// </summary>
internal static class ShimGroup
{
    /// <summary>containerd CRI's annotations (<c>pkg/cri/annotations</c>).</summary>
    public const string CriContainerType = "io.kubernetes.cri.container-type";
    public const string CriSandboxId = "io.kubernetes.cri.sandbox-id";

    /// <summary>CRI-O's annotations (<c>pkg/annotations</c>).</summary>
    public const string CrioContainerType = "io.kubernetes.cri-o.ContainerType";
    public const string CrioSandboxId = "io.kubernetes.cri-o.SandboxID";

    /// <summary>The group of task <paramref name="id"/>: its sandbox's id for a pod container, else <paramref name="id"/>.</summary>
    /// <exception cref="ShimUsageException">
    /// config.json is missing or not an OCI spec, or a pod container's sandbox id is not an identifier.
    /// </exception>
    public static string Resolve(string bundle, string id)
    {
        string configPath = Path.Combine(bundle, "config.json");
        byte[] json;
        try
        {
            json = File.ReadAllBytes(configPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShimUsageException($"{configPath}: {e.Message}");
        }
        return FromSpec(json, configPath, id);
    }

    /// <summary>As <see cref="Resolve"/>, from the spec's bytes; <paramref name="source"/> names it in errors.</summary>
    public static string FromSpec(ReadOnlySpan<byte> json, string source, string id)
    {
        Dictionary<string, string> annotations;
        try
        {
            annotations = Annotations(json);
        }
        catch (JsonException e)
        {
            throw new ShimUsageException($"{source}: not an OCI runtime spec: {e.Message}");
        }
        foreach (var (typeKey, sandboxKey) in new[] { (CriContainerType, CriSandboxId), (CrioContainerType, CrioSandboxId) })
        {
            if (!annotations.TryGetValue(typeKey, out string? type))
                continue;
            if (type != "container")
                return id;
            if (!annotations.TryGetValue(sandboxKey, out string? sandbox) || sandbox.Length == 0)
                throw new ShimUsageException($"{source}: annotations.{typeKey} is 'container' but annotations.{sandboxKey} is missing");
            if (ContainerdIdentifier.Problem(sandbox) is { } problem)
                throw new ShimUsageException($"{source}: annotations.{sandboxKey} {problem}");
            return sandbox;
        }
        return id;
    }

    private static Dictionary<string, string> Annotations(ReadOnlySpan<byte> json)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("the document is not a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isAnnotations = reader.ValueTextEquals("annotations"u8);
            reader.Read();
            if (!isAnnotations || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip();
                continue;
            }
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new JsonException("annotations is not an object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string key = reader.GetString()!;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                    throw new JsonException($"annotations.{key} is not a string");
                result[key] = reader.GetString()!;
            }
        }
        return result;
    }
}
