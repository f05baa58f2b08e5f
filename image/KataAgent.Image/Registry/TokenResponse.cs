using System.Text.Json.Serialization;

namespace KataAgent.Image.Registry;

/// <summary>A token server's answer (docker's token spec and its OAuth2 form).</summary>
internal sealed record TokenResponse
{
    /// <summary>The token (docker's name).</summary>
    [JsonPropertyName("token")]
    public string? Token { get; init; }

    /// <summary>The token (OAuth2's name); servers may send both.</summary>
    [JsonPropertyName("access_token")]
    public string? AccessToken { get; init; }

    /// <summary>Seconds the token lives; 60 when absent, and never taken as less.</summary>
    [JsonPropertyName("expires_in")]
    public int? ExpiresIn { get; init; }

    /// <summary>When the token was issued (RFC 3339).</summary>
    [JsonPropertyName("issued_at")]
    public DateTimeOffset? IssuedAt { get; init; }
}
