using System.Text.Json.Serialization;

namespace KataAgent.Host.Pods;

/// <summary>Source-generated (Native-AOT safe) JSON for pod.json.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(PodStateFile))]
internal sealed partial class PodStateFileJsonContext : JsonSerializerContext;
