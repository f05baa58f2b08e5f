using System.Text.Json.Serialization;

namespace KataAgent.Agent.Images;

/// <summary>Source-generated JSON of <see cref="GuestPullVolume"/> (Native AOT).</summary>
[JsonSerializable(typeof(GuestPullVolume))]
internal sealed partial class GuestPullVolumeJsonContext : JsonSerializerContext
{
}
