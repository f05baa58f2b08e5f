namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>Registry credentials in a <see cref="GuestPullRequest"/>.</summary>
/// <param name="Username">The user name (empty with an identity token).</param>
/// <param name="Password">The password or access token.</param>
/// <param name="IdentityToken">An OAuth2 refresh token, or null.</param>
public sealed record GuestPullCredentials(string Username, string Password, string? IdentityToken)
{
    /// <summary>Keeps the secrets out of logs.</summary>
    public override string ToString() => $"GuestPullCredentials {{ Username = {Username} }}";
}
