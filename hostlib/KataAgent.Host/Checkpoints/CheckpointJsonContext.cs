using System.Text.Json.Serialization;

namespace KataAgent.Host.Checkpoints;

/// <summary>Source-generated (Native-AOT safe) JSON for a checkpoint's manifest and records.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CheckpointManifest))]
[JsonSerializable(typeof(CheckpointRecord))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;
