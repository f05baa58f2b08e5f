using FluentAssertions;
using KataAgent.Host.Images;
using KataAgent.Image;
using KataAgent.Image.Registry;
using Xunit;

namespace KataAgent.Tests.HostImages;

/// <summary>
/// <see cref="DockerCredentialHelperRunner"/> running real helper programs: a shell script the test writes as
/// <c>docker-credential-kafake</c> into a directory of its own, given as the search path. It records the stdin it
/// got and answers by server: a user and secret, an identity token, "not found", a failure.
/// </summary>
public sealed class DockerCredentialHelperRunnerTests : IDisposable
{
    private const string Script = """
        #!/bin/sh
        [ "$#" -eq 1 ] && [ "$1" = get ] || { echo "unexpected arguments: $*" >&2; exit 9; }
        server=$(cat; echo x)
        server=${server%x}
        printf '%s' "$server" > "$(dirname "$0")/asked"
        case "$server" in
          token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh-1"}' ;;
          missing.example) echo 'credentials not found in native keychain'; exit 1 ;;
          broken.example) echo 'the keyring is locked' >&2; exit 5 ;;
          *) printf '{"ServerURL":"%s","Username":"user-%s","Secret":"pw-1"}\n' "$server" "$server" ;;
        esac
        """;

    private readonly TempDirectory _root = new();
    private readonly string _bin;

    public DockerCredentialHelperRunnerTests()
    {
        _bin = _root.CreateDirectory("bin");
        string helper = Path.Combine(_bin, "docker-credential-kafake");
        File.WriteAllText(helper, Script.Replace("\r\n", "\n") + "\n");
        File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
    }

    public void Dispose() => _root.Dispose();

    private DockerConfigCredentials Config(string json, string? searchPath = null)
    {
        string path = _root.File("config.json");
        File.WriteAllText(path, json);
        return DockerConfigCredentials.Load(path, new DockerCredentialHelperRunner(searchPath ?? "/nonexistent:" + _bin));
    }

    private string Asked => File.ReadAllText(Path.Combine(_bin, "asked"));

    [Fact]
    public async Task The_helper_gets_the_server_url_on_stdin_and_its_answer_is_the_credentials()
    {
        var config = Config("""{ "credsStore": "kafake" }""");

        (await config.FindAsync("10.0.0.1:5000")).Should().Be(new RegistryCredentials("user-10.0.0.1:5000", "pw-1"));
        Asked.Should().Be("10.0.0.1:5000", "the server URL alone, no newline, as docker writes it");
        (await config.FindAsync("docker.io")).Should().Be(new RegistryCredentials("user-https://index.docker.io/v1/", "pw-1"));
        Asked.Should().Be("https://index.docker.io/v1/");
    }

    [Fact]
    public async Task A_token_answer_is_an_identity_token_and_not_found_is_anonymous()
    {
        var config = Config("""{ "credHelpers": { "token.example": "kafake", "missing.example": "kafake" } }""");

        (await config.FindAsync("token.example")).Should().Be(new RegistryCredentials("", "", "refresh-1"));
        (await config.FindAsync("missing.example")).Should().BeNull();
    }

    [Fact]
    public async Task A_failing_helper_is_unauthorized_with_its_stderr()
    {
        var config = Config("""{ "credsStore": "kafake" }""");

        var refused = await config.Awaiting(c => c.FindAsync("broken.example")).Should().ThrowAsync<ImageException>();

        refused.Which.Kind.Should().Be(ImageErrorKind.Unauthorized);
        refused.Which.Message.Should().Contain("docker-credential-kafake").And.Contain("exit code 5").And.EndWith("the keyring is locked");
    }

    [Fact]
    public async Task A_helper_not_in_the_search_path_is_invalid_input_naming_it_and_the_path()
    {
        File.WriteAllText(Path.Combine(_bin, "docker-credential-noexec"), "#!/bin/sh\nexit 0\n");
        var config = Config("""{ "credHelpers": { "a.example": "absent", "b.example": "noexec" } }""");

        foreach (var (registry, program) in new[] { ("a.example", "docker-credential-absent"), ("b.example", "docker-credential-noexec") })
        {
            var refused = await config.Awaiting(c => c.FindAsync(registry)).Should().ThrowAsync<ImageException>();
            refused.Which.Kind.Should().Be(ImageErrorKind.InvalidInput);
            refused.Which.Message.Should().Be($"credential helper {program} is not installed: no executable of that name in PATH (/nonexistent:{_bin})");
        }
    }
}
