using System.Text.Json.Serialization;

namespace KataAgent.Host.Sandboxes;

/// <summary>Source-generated (Native-AOT safe) JSON for agent-sandbox.json.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SandboxStateFile))]
internal sealed partial class SandboxStateFileJsonContext : JsonSerializerContext;
