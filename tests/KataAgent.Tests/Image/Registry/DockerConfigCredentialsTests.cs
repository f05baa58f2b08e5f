using System.Text;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Registry;

/// <summary>docker's config.json read as docker reads it: key forms, the three credential shapes, DOCKER_CONFIG, bad files named.</summary>
public sealed class DockerConfigCredentialsTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    private string Write(string json)
    {
        var path = _root.File("config.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void Reads_every_key_form_and_credential_shape()
    {
        var path = Write($$"""
            {
              "auths": {
                "https://index.docker.io/v1/": { "auth": "{{B64("hubuser:hub:pass")}}" },
                "quay.io": { "username": "q", "password": "qp" },
                "https://ghcr.io/v2/": { "identitytoken": "refresh-me" },
                "10.0.0.1:5000": { "auth": "{{B64("local:pw")}}" },
                "empty.example.com": {}
              }
            }
            """);

        var credentials = DockerConfigCredentials.Load(path);

        credentials.Path.Should().Be(path);
        credentials.Find("docker.io").Should().Be(new RegistryCredentials("hubuser", "hub:pass"), "the password is what follows the first colon");
        credentials.Find("quay.io").Should().Be(new RegistryCredentials("q", "qp"));
        credentials.Find("ghcr.io")!.IdentityToken.Should().Be("refresh-me");
        credentials.Find("10.0.0.1:5000")!.Username.Should().Be("local");
        credentials.Find("empty.example.com").Should().BeNull();
        credentials.Find("registry.example.com").Should().BeNull();
        credentials.Find("docker.io")!.ToString().Should().NotContain("hub:pass");
    }

    [Fact]
    public void A_missing_file_has_no_credentials_and_a_bad_one_is_named()
    {
        DockerConfigCredentials.Load(_root.File("absent.json")).Registries.Should().BeEmpty();

        var bad = Write("{ not json");
        var act = () => DockerConfigCredentials.Load(bad);
        act.Should().Throw<ImageException>().Where(e => e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains(bad));

        var notBase64 = Write("""{"auths":{"quay.io":{"auth":"%%%"}}}""");
        var actAuth = () => DockerConfigCredentials.Load(notBase64);
        actAuth.Should().Throw<ImageException>().Where(e => e.Message.Contains("quay.io") && e.Message.Contains(notBase64));
    }

    [Fact]
    public void The_default_path_follows_DOCKER_CONFIG()
    {
        var before = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        try
        {
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", _root.Path);
            DockerConfigCredentials.DefaultPath.Should().Be(_root.File("config.json"));
            Write("{\"auths\":{\"quay.io\":{\"auth\":\"" + B64("u:p") + "\"}}}");
            DockerConfigCredentials.Load().Find("quay.io").Should().Be(new RegistryCredentials("u", "p"));

            Environment.SetEnvironmentVariable("DOCKER_CONFIG", null);
            DockerConfigCredentials.DefaultPath.Should().EndWith("/.docker/config.json");
        }
        finally
        {
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", before);
        }
    }
}
