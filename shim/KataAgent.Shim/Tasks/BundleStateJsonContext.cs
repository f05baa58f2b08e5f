using System.Text.Json.Serialization;

namespace KataAgent.Shim.Tasks;

/// <summary>Source-generated JSON metadata for <see cref="BundleState"/>.</summary>
[JsonSerializable(typeof(BundleState))]
internal sealed partial class BundleStateJsonContext : JsonSerializerContext;
