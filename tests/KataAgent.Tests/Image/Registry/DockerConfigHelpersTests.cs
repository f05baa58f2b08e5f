using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Registry;
using Xunit;

namespace KataAgent.Tests.Image.Registry;

/// <summary>
/// docker config's credential helpers as docker uses them, with a helper answered in memory: <c>credHelpers</c>
/// before <c>credsStore</c>, before <c>auths</c>; the server URL asked for (Docker Hub's v1 URL, else host:port);
/// the answer's user and secret, <c>&lt;token&gt;</c> as an identity token, "not found" as anonymous; a failing
/// helper, nonsense answers and bad helper names named; no runner, no helper.
/// </summary>
public sealed class DockerConfigHelpersTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    /// <summary>Answers by program, recording what it was asked.</summary>
    private sealed class FakeHelpers(Func<string, string, DockerCredentialHelperOutput> answer) : IDockerCredentialHelper
    {
        public List<(string Program, string ServerUrl)> Calls { get; } = [];

        public Task<DockerCredentialHelperOutput> GetAsync(string program, string serverUrl, CancellationToken cancellationToken)
        {
            Calls.Add((program, serverUrl));
            return Task.FromResult(answer(program, serverUrl));
        }
    }

    private static DockerCredentialHelperOutput Answer(string json) => new(0, json + "\n", "");

    private string Write(string json)
    {
        var path = _root.File("config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task CredHelpers_come_before_credsStore_which_comes_before_auths()
    {
        var path = Write("""
            {
              "auths": { "quay.io": { "auth": "cTpxcA==" }, "https://index.docker.io/v1/": {}, "10.0.0.1:5000": { "username": "file", "password": "pw" } },
              "credsStore": "desktop",
              "credHelpers": { "https://gcr.io": "gcloud", "10.0.0.1:5000": "" }
            }
            """);
        var helpers = new FakeHelpers((program, server) => Answer($$"""{"ServerURL":"{{server}}","Username":"{{program}}","Secret":"s-{{server}}"}"""));
        var config = DockerConfigCredentials.Load(path, helpers);

        config.CredentialHelperFor("gcr.io").Should().Be("gcloud");
        config.CredentialHelperFor("quay.io").Should().Be("desktop");
        (await config.FindAsync("gcr.io")).Should().Be(new RegistryCredentials("docker-credential-gcloud", "s-gcr.io"));
        (await config.FindAsync("quay.io")).Should().Be(new RegistryCredentials("docker-credential-desktop", "s-quay.io"), "with a credsStore, docker takes credentials from it, not from auths");
        (await config.FindAsync("docker.io")).Should().Be(new RegistryCredentials("docker-credential-desktop", "s-https://index.docker.io/v1/"));
        (await config.FindAsync("10.0.0.1:5000")).Should().Be(new RegistryCredentials("docker-credential-desktop", "s-10.0.0.1:5000"), "an empty credHelpers entry names no helper");
        helpers.Calls.Should().Equal(
            ("docker-credential-gcloud", "gcr.io"),
            ("docker-credential-desktop", "quay.io"),
            ("docker-credential-desktop", "https://index.docker.io/v1/"),
            ("docker-credential-desktop", "10.0.0.1:5000"));
        config.Find("quay.io").Should().Be(new RegistryCredentials("q", "qp"), "Find reads auths only");
    }

    [Fact]
    public async Task Without_a_helper_for_the_registry_auths_answer_and_no_helper_runs()
    {
        var path = Write("""{ "auths": { "quay.io": { "username": "q", "password": "qp" } }, "credHelpers": { "gcr.io": "gcloud" } }""");
        var helpers = new FakeHelpers((_, _) => throw new InvalidOperationException("no helper may run"));
        var config = DockerConfigCredentials.Load(path, helpers);

        (await config.FindAsync("quay.io")).Should().Be(new RegistryCredentials("q", "qp"));
        (await config.FindAsync("ghcr.io")).Should().BeNull();
        helpers.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task A_token_username_makes_the_secret_an_identity_token()
    {
        var path = Write("""{ "credsStore": "pass" }""");
        var config = DockerConfigCredentials.Load(path, new FakeHelpers((_, server) => Answer($$"""{"serverurl":"{{server}}","username":"<token>","secret":"refresh-token"}""")));

        (await config.FindAsync("ghcr.io")).Should().Be(new RegistryCredentials("", "", "refresh-token"), "field names match without case, as Go's decoder does");
    }

    [Fact]
    public async Task Not_found_in_the_helper_is_anonymous_as_in_docker()
    {
        var path = Write("""{ "auths": { "quay.io": { "username": "q", "password": "qp" } }, "credsStore": "secretservice" }""");
        var config = DockerConfigCredentials.Load(path, new FakeHelpers((_, _) => new DockerCredentialHelperOutput(1, "credentials not found in native keychain\n", "")));

        (await config.FindAsync("quay.io")).Should().BeNull("docker does not fall back to auths when the store has nothing");
    }

    [Fact]
    public async Task An_empty_answer_is_anonymous()
    {
        var path = Write("""{ "credsStore": "pass" }""");
        var config = DockerConfigCredentials.Load(path, new FakeHelpers((_, _) => Answer("""{"ServerURL":"quay.io","Username":"","Secret":""}""")));

        (await config.FindAsync("quay.io")).Should().BeNull();
    }

    [Fact]
    public async Task A_failing_helper_is_unauthorized_naming_it_the_file_and_its_message()
    {
        var path = Write("""{ "credHelpers": { "quay.io": "broken" } }""");
        var config = DockerConfigCredentials.Load(path, new FakeHelpers((_, _) => new DockerCredentialHelperOutput(3, "", "keychain is locked\n")));

        var refused = await config.Awaiting(c => c.FindAsync("quay.io")).Should().ThrowAsync<ImageException>();

        refused.Which.Kind.Should().Be(ImageErrorKind.Unauthorized);
        refused.Which.Message.Should().Be($"credential helper docker-credential-broken (docker config {path}) failed for quay.io with exit code 3: keychain is locked");
    }

    [Theory]
    [InlineData("not json at all secret-value")]
    [InlineData("[\"secret-value\"]")]
    [InlineData("{\"Username\":\"u\",\"Secret\":[\"secret-value\"]}")]
    public async Task An_answer_that_is_not_the_helpers_json_is_invalid_input_and_never_quoted(string answer)
    {
        var path = Write("""{ "credsStore": "odd" }""");
        var config = DockerConfigCredentials.Load(path, new FakeHelpers((_, _) => Answer(answer)));

        var refused = await config.Awaiting(c => c.FindAsync("quay.io")).Should().ThrowAsync<ImageException>();

        refused.Which.Kind.Should().Be(ImageErrorKind.InvalidInput);
        refused.Which.Message.Should().StartWith("credential helper docker-credential-odd answered for quay.io with").And.NotContain("secret-value");
    }

    [Theory]
    [InlineData("""{ "credsStore": "../../bin/sh" }""", "credsStore names '../../bin/sh'")]
    [InlineData("""{ "credsStore": ".hidden" }""", "credsStore names '.hidden'")]
    [InlineData("""{ "credHelpers": { "quay.io": "a b" } }""", "credHelpers 'quay.io' names 'a b'")]
    public void A_helper_name_that_is_not_a_program_name_is_refused_naming_the_file_and_key(string json, string message)
    {
        var path = Write(json);

        var refused = FluentActions.Invoking(() => DockerConfigCredentials.Load(path)).Should().Throw<ImageException>().Which;

        refused.Kind.Should().Be(ImageErrorKind.InvalidInput);
        refused.Message.Should().Contain(path).And.Contain(message);
    }

    [Fact]
    public async Task A_helper_without_a_runner_is_unsupported_naming_it()
    {
        var path = Write("""{ "credsStore": "desktop" }""");

        var refused = await DockerConfigCredentials.Load(path).Awaiting(c => c.FindAsync("quay.io")).Should().ThrowAsync<ImageException>();

        refused.Which.Kind.Should().Be(ImageErrorKind.Unsupported);
        refused.Which.Message.Should().Contain("docker-credential-desktop").And.Contain(path);
    }
}
