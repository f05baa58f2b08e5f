using System.Text;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Image.Registry;
using KataAgent.Image.Store;
using KataAgent.Testing.Containerd;
using KataAgent.Testing.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Registry;

/// <summary>
/// Auth and TLS against registries of their own: token auth (docker-registry verifying our token server's JWT),
/// htpasswd Basic auth, credentials from a docker config file, wrong and missing passwords (Unauthorized naming
/// the registry), HTTPS with the test CA trusted, and the same registry refused without it.
/// </summary>
public sealed class RegistryAuthTests : IDisposable
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private static async Task<(TestRegistry Registry, string Reference)> StartWithBusyboxAsync(TestRegistryOptions options)
    {
        var archives = await BusyboxOciImage.BuildAsync();
        var registry = await TestRegistry.StartAsync(options);
        try
        {
            return (registry, await registry.PushAsync($"oci:{archives.Layout}:v1", "test/busybox:v1"));
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Token_auth_pulls_with_a_token_the_registry_verifies_and_refuses_a_wrong_or_missing_password()
    {
        var (registry, reference) = await StartWithBusyboxAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Token });
        await using var _ = registry;
        int before = registry.TokenServer!.Issued;
        using (var client = new RegistryClient(registry.ClientOptions()))
        {
            var image = await new ImagePuller(client, new ContentStore(_root.File("store"))).PullAsync(ImageReference.Parse(reference), Amd64, null, CancellationToken.None);
            image.Manifest.Layers.Should().ContainSingle();
        }
        registry.TokenServer.Issued.Should().BeGreaterThan(before, "the client fetched its own token");

        using (var wrong = new RegistryClient(registry.ClientOptions(credentials: new RegistryCredentials(registry.Options.User, "wrong"))))
        {
            var act = () => wrong.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
            var error = (await act.Should().ThrowAsync<ImageException>()).Which;
            error.Kind.Should().Be(ImageErrorKind.Unauthorized);
            error.Message.Should().Contain(registry.Host).And.Contain(reference).And.Contain(registry.Options.User).And.NotContain("wrong");
        }

        using (var anonymous = new RegistryClient(registry.ClientOptions(anonymous: true)))
        {
            var act = () => anonymous.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
            var error = (await act.Should().ThrowAsync<ImageException>()).Which;
            error.Kind.Should().Be(ImageErrorKind.Unauthorized);
            error.Message.Should().Contain(registry.Host).And.Contain("anonymous");
        }
    }

    [Fact]
    public async Task A_forged_token_is_refused_by_the_registry_itself()
    {
        // Proof that the registry checks the JWT: a token for another repository gets 401 on this one.
        var (registry, reference) = await StartWithBusyboxAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Token });
        await using var _ = registry;
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{registry.Host}/v2/test/busybox/manifests/v1");
        request.Headers.Authorization = new("Bearer", registry.TokenServer!.IssueToken(["repository:test/other:pull"]));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);

        using var response = await http.SendAsync(request);

        ((int)response.StatusCode).Should().Be(401);
        using var allowed = new HttpRequestMessage(HttpMethod.Get, request.RequestUri);
        allowed.Headers.Authorization = new("Bearer", registry.TokenServer.IssueToken(["repository:test/busybox:pull"]));
        allowed.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var ok = await http.SendAsync(allowed);
        ((int)ok.StatusCode).Should().Be(200, await ok.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Basic_auth_pulls_with_the_password_and_names_the_registry_when_it_is_wrong_or_absent()
    {
        var (registry, reference) = await StartWithBusyboxAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Basic });
        await using var _ = registry;
        using (var client = new RegistryClient(registry.ClientOptions()))
        {
            var image = await new ImagePuller(client, new ContentStore(_root.File("store"))).PullAsync(ImageReference.Parse(reference), Amd64, null, CancellationToken.None);
            image.Name.Should().Be(reference);
        }

        using (var wrong = new RegistryClient(registry.ClientOptions(credentials: new RegistryCredentials("tester", "not-it"))))
        {
            var act = () => wrong.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
            var error = (await act.Should().ThrowAsync<ImageException>()).Which;
            error.Kind.Should().Be(ImageErrorKind.Unauthorized);
            error.Message.Should().Contain("registry " + registry.Host).And.Contain("'tester'").And.NotContain("not-it");
        }

        using (var anonymous = new RegistryClient(registry.ClientOptions(anonymous: true)))
        {
            var act = () => anonymous.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
            var error = (await act.Should().ThrowAsync<ImageException>()).Which;
            error.Kind.Should().Be(ImageErrorKind.Unauthorized);
            error.Message.Should().Contain(registry.Host).And.Contain("none are configured");
        }
    }

    [Fact]
    public async Task Credentials_from_a_docker_config_file_reach_the_registry()
    {
        var (registry, reference) = await StartWithBusyboxAsync(new TestRegistryOptions { Auth = TestRegistryAuth.Basic });
        await using var _ = registry;
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes(registry.Options.User + ":" + registry.Options.Password));
        var config = _root.File("config.json");
        File.WriteAllText(config, "{\"auths\":{\"http://" + registry.Host + "/v2/\":{\"auth\":\"" + auth + "\"}},\"credsStore\":\"none\"}");
        var credentials = DockerConfigCredentials.Load(config);

        using var client = new RegistryClient(registry.ClientOptions(anonymous: true) with { Credentials = credentials.Find });
        var resolved = await client.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);

        resolved.Manifest.Layers.Should().ContainSingle();
    }

    [Fact]
    public async Task Https_with_the_test_ca_pulls_and_without_it_is_refused()
    {
        var (registry, reference) = await StartWithBusyboxAsync(new TestRegistryOptions { Tls = true });
        await using var _ = registry;
        using (var trusting = new RegistryClient(registry.ClientOptions(trustCa: true)))
        {
            var image = await new ImagePuller(trusting, new ContentStore(_root.File("store"))).PullAsync(ImageReference.Parse(reference), Amd64, null, CancellationToken.None);
            image.Manifest.Layers.Should().ContainSingle();
        }

        using var untrusting = new RegistryClient(registry.ClientOptions(trustCa: false));
        var act = () => untrusting.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.Unavailable);
        error.Message.Should().Contain("TLS").And.Contain(registry.Host).And.Contain("system CA store");

        // A bundle of another CA is refused as well: trust is the bundle's, not the system's plus it.
        var other = await TestCertificates.CreateAsync(_root.CreateDirectory("other-ca"), registry.RegistryAddress);
        using var wrongCa = new RegistryClient(registry.ClientOptions(trustCa: false) with { CaBundlePath = other.CaCertificate });
        var actWrong = () => wrongCa.ResolveAsync(ImageReference.Parse(reference), Amd64, CancellationToken.None);
        (await actWrong.Should().ThrowAsync<ImageException>()).Which.Message.Should().Contain(other.CaCertificate);
    }
}
