using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace KataAgent.Image.Registry;

public sealed partial class RegistryClient
{
    /// <summary>The header to send to the registry: a cached bearer token for the scope, or Basic, or nothing yet.</summary>
    private async Task<AuthenticationHeaderValue?> AuthorizationAsync(RequestTarget target, CancellationToken cancellationToken)
    {
        if (!_challenges.TryGetValue(target.ApiHost, out var challenge))
            return null;
        if (IsScheme(challenge, "Basic"))
            return BasicHeader(Credentials(target.Registry));
        if (IsScheme(challenge, "Bearer"))
        {
            var token = _tokens.TryGetValue(TokenKey(target), out var cached) && cached.IsValid(DateTimeOffset.UtcNow)
                ? cached
                : await FetchTokenAsync(target, challenge, cancellationToken).ConfigureAwait(false);
            return new AuthenticationHeaderValue("Bearer", token.Value);
        }
        return null;
    }

    /// <summary>
    /// Learns how the registry wants to be authenticated from a 401 and gets what the next attempt sends. Throws
    /// <see cref="ImageErrorKind.Unauthorized"/> when it wants credentials there are none of, or when the 401 came
    /// although they were already sent (a token for this very scope, or Basic).
    /// </summary>
    private async Task AnswerChallengeAsync(RequestTarget target, IReadOnlyList<AuthChallenge> challenges, CancellationToken cancellationToken)
    {
        var credentials = Credentials(target.Registry);
        var bearer = challenges.FirstOrDefault(c => IsScheme(c, "Bearer") && c["realm"] is not null);
        var basic = challenges.FirstOrDefault(c => IsScheme(c, "Basic"));
        if (bearer is not null)
        {
            _challenges[target.ApiHost] = bearer;
            // A token that was already sent and refused is worth nothing; another fetch may carry a wider scope.
            _tokens.TryRemove(TokenKey(target), out _);
            await FetchTokenAsync(target, bearer, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (basic is not null)
        {
            if (credentials is null)
                throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: registry {target.Registry} wants credentials (Basic) and none are configured for it");
            if (_challenges.TryGetValue(target.ApiHost, out var known) && IsScheme(known, "Basic"))
                throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: registry {target.Registry} refused the credentials of user '{credentials.Username}'");
            _challenges[target.ApiHost] = basic;
            return;
        }
        var schemes = challenges.Count == 0 ? "no WWW-Authenticate challenge" : "challenge " + string.Join(", ", challenges.Select(c => c.Scheme));
        throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: registry {target.Registry} answered 401 with {schemes}, which this client cannot answer");
    }

    /// <summary>
    /// Gets a token from the challenge's realm for the target's scope: <c>GET realm?service=…&amp;scope=…</c> with Basic
    /// credentials when there are some (anonymous otherwise), or an OAuth2 refresh-token POST with an identity token.
    /// </summary>
    private async Task<BearerToken> FetchTokenAsync(RequestTarget target, AuthChallenge challenge, CancellationToken cancellationToken)
    {
        var credentials = Credentials(target.Registry);
        var realm = challenge["realm"]!;
        if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
            throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: registry {target.Registry} names a token realm '{realm}' that is no http(s) URL");
        // Credentials in clear text only to a realm named as plain HTTP, or beside a registry spoken to over HTTP.
        if (realmUri.Scheme == "http" && !IsPlain(Authority(realmUri)) && !IsPlain(target.Registry) && !IsPlain(target.ApiHost))
            throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: registry {target.Registry} names a plain-HTTP token realm {realm}; name {Authority(realmUri)} as a plain-HTTP registry to allow it");

        var service = challenge["service"];
        var scopes = new List<string>();
        if (target.Scope is not null)
            scopes.Add(target.Scope);
        if (challenge["scope"] is { } asked)
            scopes.AddRange(asked.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => !scopes.Contains(s)));

        using var request = BuildTokenRequest(realmUri, service, scopes, credentials);
        using var response = await SendWithStallTimeoutAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var who = credentials is null ? "anonymous access" : $"the credentials of user '{credentials.Username}'";
            throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: the token server {Authority(realmUri)} of registry {target.Registry} refused {who} ({(int)response.StatusCode})");
        }
        if (!response.IsSuccessStatusCode)
        {
            if ((int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
                throw new HttpRequestException($"the token server {Authority(realmUri)} answered {(int)response.StatusCode}", null, response.StatusCode);
            throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: the token server {Authority(realmUri)} of registry {target.Registry} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        var body = await ReadLimitedAsync(response.Content, 1 << 20, target, cancellationToken).ConfigureAwait(false);
        TokenResponse? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.TokenResponse);
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: the token server {Authority(realmUri)} sent no JSON token: {e.Message}", e);
        }
        var value = !string.IsNullOrEmpty(parsed?.Token) ? parsed.Token : parsed?.AccessToken;
        if (string.IsNullOrEmpty(value))
            throw new ImageException(ImageErrorKind.Unauthorized, $"{target.What}: the token server {Authority(realmUri)} sent neither token nor access_token");

        // expires_in defaults to 60 s and is never taken as less; a margin keeps a token from expiring in flight.
        var lifetime = TimeSpan.FromSeconds(Math.Max(parsed!.ExpiresIn ?? 60, 60));
        var token = new BearerToken(value, DateTimeOffset.UtcNow + lifetime - TimeSpan.FromSeconds(10));
        _tokens[TokenKey(target)] = token;
        return token;
    }

    private static HttpRequestMessage BuildTokenRequest(Uri realm, string? service, IReadOnlyList<string> scopes, RegistryCredentials? credentials)
    {
        if (credentials?.IdentityToken is { Length: > 0 } refresh)
        {
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"),
                new("refresh_token", refresh),
                new("client_id", "kataagent"),
            };
            if (service is not null)
                form.Add(new("service", service));
            if (scopes.Count > 0)
                form.Add(new("scope", string.Join(' ', scopes)));
            return new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(form) };
        }

        var query = new StringBuilder(realm.Query.Length > 1 ? realm.Query[1..] : "");
        void Add(string name, string value)
        {
            if (query.Length > 0)
                query.Append('&');
            query.Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        if (service is not null)
            Add("service", service);
        foreach (var scope in scopes)
            Add("scope", scope);
        if (credentials is not null)
            Add("account", credentials.Username);
        var uri = new UriBuilder(realm) { Query = query.ToString() }.Uri;
        var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (credentials is not null)
            request.Headers.Authorization = BasicHeader(credentials);
        return request;
    }

    private RegistryCredentials? Credentials(string registry) => Options.Credentials?.Invoke(registry);

    private static AuthenticationHeaderValue? BasicHeader(RegistryCredentials? credentials) =>
        credentials is null
            ? null
            : new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials.Username + ":" + credentials.Password)));

    private static bool IsScheme(AuthChallenge challenge, string scheme) =>
        string.Equals(challenge.Scheme, scheme, StringComparison.OrdinalIgnoreCase);

    private static string TokenKey(RequestTarget target) => target.ApiHost + " " + (target.Scope ?? "");
}
