using System.Text.Json.Serialization;

namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>The helper's JSON, source-generated (Native AOT on both ends), camelCase, nulls left out.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GuestPullRequest))]
[JsonSerializable(typeof(GuestPullResult))]
public sealed partial class GuestPullJsonContext : JsonSerializerContext
{
}
