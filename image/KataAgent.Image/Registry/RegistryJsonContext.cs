using System.Text.Json.Serialization;

namespace KataAgent.Image.Registry;

/// <summary>Source-generated JSON for the registry client's own documents (errors, tokens, docker's config).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, AllowTrailingCommas = true, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip)]
[JsonSerializable(typeof(RegistryErrorResponse))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(DockerConfigFile))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
