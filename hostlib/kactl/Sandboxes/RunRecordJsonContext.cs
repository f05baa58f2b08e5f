using System.Text.Json.Serialization;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>Source-generated JSON for <see cref="RunRecord"/>: no reflection, so Native AOT needs nothing else.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(RunRecord))]
internal sealed partial class RunRecordJsonContext : JsonSerializerContext
{
}
