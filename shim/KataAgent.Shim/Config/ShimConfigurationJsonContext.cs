using System.Text.Json.Serialization;

namespace KataAgent.Shim.Config;

/// <summary>Source-generated JSON metadata for <see cref="ShimConfiguration"/> (Native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ShimConfiguration))]
[JsonSerializable(typeof(KataAgent.Shim.Sizing.SizingOptions))]
internal sealed partial class ShimConfigurationJsonContext : JsonSerializerContext;
