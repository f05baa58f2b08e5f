using System.Text.Json.Serialization;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>Source-generated JSON for <see cref="SandboxRecord"/>: no reflection, so Native AOT needs nothing else.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(SandboxRecord))]
internal sealed partial class SandboxRecordJsonContext : JsonSerializerContext
{
}
