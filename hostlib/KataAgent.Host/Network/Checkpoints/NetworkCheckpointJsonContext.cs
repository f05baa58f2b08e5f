using System.Text.Json.Serialization;

namespace KataAgent.Host.Network.Checkpoints;

/// <summary>Source-generated (Native-AOT safe) JSON for <see cref="NetworkCheckpoint"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(NetworkCheckpoint))]
internal sealed partial class NetworkCheckpointJsonContext : JsonSerializerContext;
