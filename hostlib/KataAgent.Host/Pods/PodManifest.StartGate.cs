using System.Text.Json;
using KataAgent.Host.Pods.Manifests;

namespace KataAgent.Host.Pods;

public static partial class PodManifest
{
    private static readonly string[] KnownAnnotations =
        [StartGateAnnotation, StartGateContainerAnnotation, StartGateTimeoutAnnotation, StartGateEnvAnnotation, BlockVolumesAnnotation];

    /// <summary>The start gate from the kataagent.io/start-gate* annotations; also refuses an unknown kataagent.io/ annotation.</summary>
    private static PodStartGate? StartGate(ManifestObject metadata, IReadOnlyDictionary<string, string> annotations)
    {
        foreach (string key in annotations.Keys)
        {
            if (key.StartsWith(AnnotationPrefix, StringComparison.Ordinal) && !KnownAnnotations.Contains(key))
            {
                throw AnnotationError(metadata, $"metadata.annotations[{key}]", $"unknown annotation ({string.Join(", ", KnownAnnotations)})");
            }
        }
        if (!annotations.TryGetValue(StartGateAnnotation, out string? command))
        {
            foreach (string other in new[] { StartGateContainerAnnotation, StartGateTimeoutAnnotation, StartGateEnvAnnotation })
            {
                if (annotations.ContainsKey(other))
                {
                    throw AnnotationError(metadata, $"metadata.annotations[{other}]", $"given without {StartGateAnnotation}");
                }
            }
            return null;
        }
        var gate = new PodStartGate { Args = StringArray(metadata, StartGateAnnotation, command) };
        if (annotations.TryGetValue(StartGateContainerAnnotation, out string? container))
        {
            gate = gate with { Container = container };
        }
        if (annotations.TryGetValue(StartGateEnvAnnotation, out string? env))
        {
            gate = gate with { Env = StringArray(metadata, StartGateEnvAnnotation, env) };
        }
        if (annotations.TryGetValue(StartGateTimeoutAnnotation, out string? timeout))
        {
            if (!GoDuration.TryParse(timeout, out var duration) || duration <= TimeSpan.Zero)
            {
                throw AnnotationError(metadata, $"metadata.annotations[{StartGateTimeoutAnnotation}]", $"'{timeout}' is not a positive duration such as \"90s\" or \"5m\"");
            }
            gate = gate with { Timeout = duration };
        }
        return gate;
    }

    private static List<string> StringArray(ManifestObject metadata, string annotation, string json)
    {
        string field = $"metadata.annotations[{annotation}]";
        using var document = ParseJson(metadata, field, json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw AnnotationError(metadata, field, "expected a JSON array of strings, such as [\"/bin/attest\", \"--url\", \"…\"]");
        }
        var result = new List<string>();
        int i = 0;
        foreach (var item in document.RootElement.EnumerateArray())
        {
            result.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw AnnotationError(metadata, $"{field}[{i}]", "expected a string"));
            i++;
        }
        return result;
    }
}
