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
/// The client's HTTP behaviours against scripted servers on loopback: a blob redirected to another host gets no
/// Authorization, 503 and 429 are retried with backoff and give up as Unavailable, a Content-Type that contradicts
/// the manifest's mediaType and a Docker-Content-Digest that contradicts the body are refused, a schema 1 manifest
/// is unsupported.
/// </summary>
public sealed class RegistryProtocolTests
{
    private static readonly Platform Amd64 = new() { Architecture = "amd64" };

    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
        + new string('a', 64) + "\",\"size\":2},\"layers\":[]}");

    private static RegistryClient Client(params string[] plain) => new(new RegistryClientOptions
    {
        PlainHttpRegistries = new HashSet<string>(plain),
        Credentials = name => name == plain[0] ? new RegistryCredentials("user", "pass") : null,
        Attempts = 3,
        FirstBackoff = TimeSpan.FromMilliseconds(10),
    });

    [Fact]
    public async Task A_redirect_to_another_host_gets_no_authorization()
    {
        var blob = Encoding.UTF8.GetBytes("blob bytes");
        var digest = Digest.Sha256Of(blob);
        using var storage = new FakeRegistryServer((request, response) => FakeRegistryServer.WriteAsync(response, 200, "application/octet-stream", blob));
        using var registry = new FakeRegistryServer((request, response) =>
        {
            if (request.Headers["Authorization"] is null)
                return FakeRegistryServer.WriteAsync(response, 401, "application/json", "{}"u8.ToArray(), ("WWW-Authenticate", "Basic realm=\"fake\""));
            return FakeRegistryServer.WriteAsync(response, 307, null, [], ("Location", $"http://{storage.Authority}/bucket/{digest.Hex}?sig=1"));
        });
        using var client = Client(registry.Authority, storage.Authority);
        var reference = ImageReference.Parse(registry.Authority + "/repo/app:v1");

        var bytes = await client.GetBlobBytesAsync(reference, new Descriptor { Digest = digest.ToString(), Size = blob.Length }, CancellationToken.None);

        bytes.Should().Equal(blob);
        registry.Requests.Should().HaveCount(2);
        registry.Requests[1].Authorization.Should().StartWith("Basic ");
        storage.Requests.Should().ContainSingle().Which.Authorization.Should().BeNull("credentials never leave the registry's host");
        storage.Requests[0].Path.Should().Be($"/bucket/{digest.Hex}?sig=1");
    }

    [Fact]
    public async Task Server_errors_and_429_are_retried_then_given_up_as_unavailable()
    {
        int calls = 0;
        using var flaky = new FakeRegistryServer((request, response) =>
            Interlocked.Increment(ref calls) switch
            {
                1 => FakeRegistryServer.WriteAsync(response, 503, "text/plain", "busy"u8.ToArray()),
                2 => FakeRegistryServer.WriteAsync(response, 429, "application/json", "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}"u8.ToArray(), ("Retry-After", "0")),
                _ => FakeRegistryServer.WriteAsync(response, 200, MediaTypes.OciManifest, Manifest),
            });
        using var client = Client(flaky.Authority);

        var resolved = await client.ResolveAsync(ImageReference.Parse(flaky.Authority + "/repo/app:v1"), Amd64, CancellationToken.None);

        resolved.ManifestBytes.ToArray().Should().Equal(Manifest);
        calls.Should().Be(3);

        using var down = new FakeRegistryServer((request, response) => FakeRegistryServer.WriteAsync(response, 502, "text/plain", "bad gateway"u8.ToArray()));
        using var giving = Client(down.Authority);
        var act = () => giving.ResolveAsync(ImageReference.Parse(down.Authority + "/repo/app:v1"), Amd64, CancellationToken.None);
        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.Unavailable);
        error.Message.Should().Contain(down.Authority + "/repo/app:v1").And.Contain("502");
        down.Requests.Should().HaveCount(3, "Attempts is 3");
    }

    [Fact]
    public async Task A_content_type_that_contradicts_the_manifest_is_refused()
    {
        using var lying = new FakeRegistryServer((request, response) => FakeRegistryServer.WriteAsync(response, 200, MediaTypes.DockerManifest, Manifest));
        using var client = Client(lying.Authority);

        var act = () => client.ResolveAsync(ImageReference.Parse(lying.Authority + "/repo/app:v1"), Amd64, CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.InvalidInput);
        error.Message.Should().Contain(MediaTypes.DockerManifest).And.Contain(MediaTypes.OciManifest).And.Contain("repo/app:v1");
    }

    [Fact]
    public async Task A_body_that_is_not_the_digest_asked_for_or_announced_is_refused()
    {
        var other = Digest.Sha256Of("something else"u8);
        using var server = new FakeRegistryServer((request, response) =>
            FakeRegistryServer.WriteAsync(response, 200, MediaTypes.OciManifest, Manifest, ("Docker-Content-Digest", other.ToString())));
        using var client = Client(server.Authority);

        var byTag = () => client.ResolveAsync(ImageReference.Parse(server.Authority + "/repo/app:v1"), Amd64, CancellationToken.None);
        (await byTag.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.DigestMismatch);

        var byDigest = () => client.ResolveAsync(ImageReference.Parse($"{server.Authority}/repo/app@{other}"), Amd64, CancellationToken.None);
        var error = (await byDigest.Should().ThrowAsync<ImageException>()).Which;
        error.Kind.Should().Be(ImageErrorKind.DigestMismatch);
        error.Message.Should().Contain(other.ToString()).And.Contain(Digest.Sha256Of(Manifest).ToString());
    }

    [Fact]
    public async Task A_schema1_manifest_is_unsupported()
    {
        using var old = new FakeRegistryServer((request, response) =>
            FakeRegistryServer.WriteAsync(response, 200, "application/vnd.docker.distribution.manifest.v1+prettyjws", "{\"schemaVersion\":1,\"name\":\"repo/app\"}"u8.ToArray()));
        using var client = Client(old.Authority);

        var act = () => client.ResolveAsync(ImageReference.Parse(old.Authority + "/repo/app:v1"), Amd64, CancellationToken.None);

        (await act.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.Unsupported);
    }

    [Fact]
    public async Task A_redirect_to_a_plain_http_host_not_named_is_refused()
    {
        using var target = new FakeRegistryServer((request, response) => FakeRegistryServer.WriteAsync(response, 200, "application/octet-stream", "x"u8.ToArray()));
        using var registry = new FakeRegistryServer((request, response) =>
            FakeRegistryServer.WriteAsync(response, 302, null, [], ("Location", $"http://{target.Authority}/x")));
        // Only the registry is named plain; the host it redirects to is not.
        using var client = new RegistryClient(new RegistryClientOptions
        {
            PlainHttpRegistries = new HashSet<string> { registry.Authority },
            Attempts = 1,
        });

        var act = () => client.GetBlobBytesAsync(ImageReference.Parse(registry.Authority + "/repo/app:v1"),
            new Descriptor { Digest = Digest.Sha256Of("x"u8).ToString(), Size = 1 }, CancellationToken.None);

        (await act.Should().ThrowAsync<ImageException>()).Which.Message.Should().Contain("not HTTPS");
        target.Requests.Should().BeEmpty();
    }
}
