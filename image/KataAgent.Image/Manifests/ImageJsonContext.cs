using System.Text.Json.Serialization;

namespace KataAgent.Image.Manifests;

/// <summary>Source-generated JSON for the image documents (Native AOT has no reflection serializer).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, AllowTrailingCommas = false)]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(Descriptor))]
internal sealed partial class ImageJsonContext : JsonSerializerContext;
