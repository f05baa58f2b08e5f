using System.Text.Json.Serialization;

namespace KataAgent.Image.Registry;

/// <summary>One <c>auths</c> entry of docker's config: base64 <c>user:password</c>, or the two apart, or an identity token.</summary>
internal sealed record DockerConfigAuth
{
    /// <summary>base64 of <c>user:password</c>.</summary>
    [JsonPropertyName("auth")]
    public string? Auth { get; init; }

    /// <summary>The user, when not in <see cref="Auth"/>.</summary>
    [JsonPropertyName("username")]
    public string? Username { get; init; }

    /// <summary>The password, when not in <see cref="Auth"/>.</summary>
    [JsonPropertyName("password")]
    public string? Password { get; init; }

    /// <summary>An OAuth2 refresh token.</summary>
    [JsonPropertyName("identitytoken")]
    public string? IdentityToken { get; init; }
}
