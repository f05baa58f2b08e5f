namespace KataAgent.Image.Registry;

/// <summary>A bearer token for one registry and scope, and when to stop using it.</summary>
/// <param name="Value">The token.</param>
/// <param name="Expires">When it expires, less a margin for the request in flight.</param>
internal sealed record BearerToken(string Value, DateTimeOffset Expires)
{
    /// <summary>True while the token can still be sent.</summary>
    public bool IsValid(DateTimeOffset now) => now < Expires;

    /// <summary>Hides the secret from logs.</summary>
    public override string ToString() => $"BearerToken {{ Expires = {Expires:O} }}";
}
