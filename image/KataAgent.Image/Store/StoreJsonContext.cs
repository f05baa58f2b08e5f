using System.Text.Json.Serialization;

namespace KataAgent.Image.Store;

/// <summary>Source-generated JSON for the store's own files.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(ImageRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
