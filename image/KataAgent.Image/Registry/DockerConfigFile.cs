using System.Text.Json.Serialization;

namespace KataAgent.Image.Registry;

/// <summary>The part of docker's <c>config.json</c> that holds credentials.</summary>
internal sealed record DockerConfigFile
{
    /// <summary>Credentials by registry key (<c>https://index.docker.io/v1/</c>, <c>quay.io</c>, …).</summary>
    [JsonPropertyName("auths")]
    public Dictionary<string, DockerConfigAuth>? Auths { get; init; }

    /// <summary>The credential helper for every registry (<c>docker-credential-&lt;name&gt;</c>), or null.</summary>
    [JsonPropertyName("credsStore")]
    public string? CredsStore { get; init; }

    /// <summary>Credential helpers by registry key, before <see cref="CredsStore"/>.</summary>
    [JsonPropertyName("credHelpers")]
    public Dictionary<string, string>? CredHelpers { get; init; }
}
