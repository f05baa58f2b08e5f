using System.Text.Json.Serialization;

namespace KataAgent.Host.Containers;

/// <summary>
/// Source-generated System.Text.Json metadata for <see cref="OciConfigModel.Config"/>: no
/// reflection, so loading a bundle is trimming- and Native-AOT-safe. Member names match
/// case-insensitively (as Go's encoding/json, which runc uses); comments and trailing commas are
/// tolerated; unknown members are ignored.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(OciConfigModel.Config))]
[JsonSerializable(typeof(OciConfigModel.Process))]
[JsonSerializable(typeof(OciConfigModel.Resources))]
internal sealed partial class OciConfigJsonContext : JsonSerializerContext
{
}
