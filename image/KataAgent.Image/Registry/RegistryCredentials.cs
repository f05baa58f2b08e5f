namespace KataAgent.Image.Registry;

/// <summary>What to authenticate to one registry with: a user and password, or an identity (refresh) token.</summary>
/// <param name="Username">The user name (empty with an identity token).</param>
/// <param name="Password">The password or personal access token.</param>
/// <param name="IdentityToken">An OAuth2 refresh token, as docker's config stores for some registries.</param>
public sealed record RegistryCredentials(string Username, string Password, string? IdentityToken = null)
{
    /// <summary>Hides the secret from logs and exceptions.</summary>
    public override string ToString() => $"RegistryCredentials {{ Username = {Username} }}";
}
