using System.Net;
using System.Text;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Registry;

/// <summary>
/// Bearer tokens against scripted servers: one token per scope reused across requests (a challenge on a blob after
/// the manifest's) and carrying the user's Basic credentials, and an identity token exchanged by an OAuth2
/// refresh-token POST.
/// </summary>
public sealed class RegistryTokenTests
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };

    private static FakeRegistryServer TokenServer(List<string> seen) => new(async (request, response) =>
    {
        string body = request.HasEntityBody ? await new StreamReader(request.InputStream).ReadToEndAsync() : "";
        lock (seen)
            seen.Add($"{request.HttpMethod} {request.Url!.Query} {body}");
        var token = "tok-" + Guid.NewGuid().ToString("N")[..6];
        await FakeRegistryServer.WriteAsync(response, 200, "application/json",
            Encoding.UTF8.GetBytes($"{{\"access_token\":\"{token}\",\"expires_in\":300}}"));
    });

    /// <summary>A registry that wants a Bearer token from <paramref name="realm"/> for every path, and serves a blob.</summary>
    private static FakeRegistryServer BearerRegistry(string realm, byte[] blob) => new((request, response) =>
    {
        var authorization = request.Headers["Authorization"];
        if (authorization is null || !authorization.StartsWith("Bearer tok-", StringComparison.Ordinal))
        {
            return FakeRegistryServer.WriteAsync(response, 401, "application/json",
                "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}"u8.ToArray(),
                ("WWW-Authenticate", $"Bearer realm=\"{realm}\",service=\"fake\",scope=\"repository:repo/app:pull\""));
        }
        return FakeRegistryServer.WriteAsync(response, 200, "application/octet-stream", blob);
    });

    [Fact]
    public async Task One_token_per_scope_serves_every_request_and_carries_the_users_basic_credentials()
    {
        var seen = new List<string>();
        using var tokens = TokenServer(seen);
        var blob = "config"u8.ToArray();
        using var registry = BearerRegistry($"http://{tokens.Authority}/token", blob);
        using var client = new RegistryClient(new RegistryClientOptions
        {
            PlainHttpRegistries = new HashSet<string> { registry.Authority, tokens.Authority },
            Credentials = _ => new RegistryCredentials("alice", "pw"),
        });
        var reference = ImageReference.Parse(registry.Authority + "/repo/app:v1");
        var descriptor = new Descriptor { Digest = Digest.Sha256Of(blob).ToString(), Size = blob.Length };

        for (int i = 0; i < 3; i++)
            (await client.GetBlobBytesAsync(reference, descriptor, CancellationToken.None)).Should().Equal(blob);

        seen.Should().ContainSingle("the token is cached for its scope").Which.Should().Contain("service=fake").And.Contain("scope=repository%3Arepo%2Fapp%3Apull");
        tokens.Requests.Single().Authorization.Should().Be("Basic " + Convert.ToBase64String("alice:pw"u8.ToArray()));
        registry.Requests.Should().HaveCount(4, "one 401, then three requests with the token");
    }

    [Fact]
    public async Task An_identity_token_is_exchanged_by_a_refresh_token_post()
    {
        var seen = new List<string>();
        using var tokens = TokenServer(seen);
        var blob = "x"u8.ToArray();
        using var registry = BearerRegistry($"http://{tokens.Authority}/oauth", blob);
        using var client = new RegistryClient(new RegistryClientOptions
        {
            PlainHttpRegistries = new HashSet<string> { registry.Authority, tokens.Authority },
            Credentials = _ => new RegistryCredentials("", "", "refresh-123"),
        });

        await client.GetBlobBytesAsync(ImageReference.Parse(registry.Authority + "/repo/app:v1"),
            new Descriptor { Digest = Digest.Sha256Of(blob).ToString(), Size = 1 }, CancellationToken.None);

        var request = seen.Should().ContainSingle().Subject;
        request.Should().StartWith("POST").And.Contain("grant_type=refresh_token").And.Contain("refresh_token=refresh-123").And.Contain("service=fake");
        tokens.Requests.Single().Authorization.Should().BeNull("the refresh token is the credential");
    }
}
