using System.Text.Json;
using System.Text.Json.Serialization;

namespace KataAgent.Agent.Policy;

/// <summary>
/// Source-generated (Native-AOT) JSON for <see cref="PolicyDocument"/>. An unknown field is an
/// error, never ignored: a misspelt rule must not silently allow what it meant to restrict.
/// </summary>
[JsonSerializable(typeof(PolicyDocument))]
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class PolicyJsonContext : JsonSerializerContext;
