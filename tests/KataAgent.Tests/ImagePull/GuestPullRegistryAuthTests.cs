using System.Net;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using KataAgent.ImagePull;
using KataAgent.Protocols.Guest.ImagePull;
using KataAgent.Tests.Image.Registry;
using Xunit;

namespace KataAgent.Tests.ImagePull;

/// <summary>
/// kata-image-pull's <c>registryAuthFile</c> (the agent's <c>agent.image_registry_auth=file:///PATH</c>): a scripted
/// registry answers 401 with a Basic challenge unless the right user and password come, and 404 (no such manifest)
/// when they do, so the error kind tells whether the file's credentials were sent. The request's own credentials
/// win over the file; a missing file or one naming a credential helper fails naming it.
/// </summary>
public sealed class GuestPullRegistryAuthTests : IDisposable
{
    private const string User = "tester";
    private const string Password = "file-secret-9";

    private readonly TempDirectory _temp = new();
    private readonly FakeRegistryServer _registry;

    public GuestPullRegistryAuthTests()
    {
        string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(User + ":" + Password));
        _registry = new FakeRegistryServer((request, response) => request.Headers["Authorization"] != expected
            ? FakeRegistryServer.WriteAsync(response, 401, "application/json", """{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"""u8.ToArray(),
                ("WWW-Authenticate", "Basic realm=\"test\""))
            : request.Url!.AbsolutePath == "/v2/"
            ? FakeRegistryServer.WriteAsync(response, 200, "application/json", "{}"u8.ToArray())
            : FakeRegistryServer.WriteAsync(response, 404, "application/json", """{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"""u8.ToArray()));
    }

    public void Dispose()
    {
        _registry.Dispose();
        _temp.Dispose();
    }

    private string AuthFile(string json)
    {
        string path = _temp.File("auth.json");
        File.WriteAllText(path, json);
        return path;
    }

    private string Auths(string password) =>
        "{\"auths\":{\"" + _registry.Authority + "\":{\"auth\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes(User + ":" + password)) + "\"}}}";

    private async Task<(int Exit, GuestPullResult Result)> PullAsync(string? authFile, GuestPullCredentials? credentials = null)
    {
        var request = new GuestPullRequest
        {
            Image = $"{_registry.Authority}/test/app:v1",
            Credentials = credentials,
            RegistryAuthFile = authFile,
            PlainHttpRegistries = [_registry.Authority],
            StoreDirectory = _temp.File("store"),
            Rootfs = _temp.File("rootfs"),
        };
        using var output = new MemoryStream();
        int exit = await GuestPull.RunAsync(new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(request, GuestPullJsonContext.Default.GuestPullRequest)), output, TextWriter.Null, CancellationToken.None);
        return (exit, JsonSerializer.Deserialize(output.ToArray(), GuestPullJsonContext.Default.GuestPullResult)!);
    }

    [Fact]
    public async Task The_files_credentials_for_the_registry_are_sent()
    {
        var (exit, result) = await PullAsync(AuthFile(Auths(Password)));

        exit.Should().Be(GuestPullHelper.Failed);
        result.Error!.Kind.Should().Be("NotFound", "the registry let the file's user in and then had no such manifest");
        _registry.Requests.Should().Contain(r => r.Authorization != null && r.Authorization.StartsWith("Basic ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_file_the_pull_is_anonymous_and_refused()
    {
        var (_, result) = await PullAsync(null);

        result.Error!.Kind.Should().Be("Unauthorized");
        _registry.Requests.Should().OnlyContain(r => r.Authorization == null);
    }

    [Fact]
    public async Task The_requests_own_credentials_win_over_the_file()
    {
        var (_, result) = await PullAsync(AuthFile(Auths(Password)), new GuestPullCredentials(User, "wrong-" + Password, null));

        result.Error!.Kind.Should().Be("Unauthorized", "the request's (wrong) password was used, not the file's");
    }

    [Fact]
    public async Task A_file_without_the_registry_is_anonymous()
    {
        var (_, result) = await PullAsync(AuthFile("""{"auths":{"other.example":{"auth":"dTpw"}}}"""));

        result.Error!.Kind.Should().Be("Unauthorized");
    }

    [Fact]
    public async Task A_missing_file_is_invalid_input_naming_it_and_the_option()
    {
        string missing = _temp.File("absent.json");

        var (exit, result) = await PullAsync(missing);

        exit.Should().Be(GuestPullHelper.Failed);
        result.Error!.Kind.Should().Be("InvalidInput");
        result.Error.Message.Should().Be($"registryAuthFile {missing} (agent.image_registry_auth) does not exist in the guest");
        _registry.Requests.Should().BeEmpty("nothing is asked of the registry with credentials missing");
    }

    [Fact]
    public async Task A_file_naming_a_credential_helper_is_unsupported_in_the_guest()
    {
        var (_, result) = await PullAsync(AuthFile("""{"credsStore":"desktop"}"""));

        result.Error!.Kind.Should().Be("Unsupported");
        result.Error.Message.Should().Contain("docker-credential-desktop");
    }

    [Fact]
    public void A_relative_file_in_the_request_is_refused_naming_the_field()
    {
        var refused = FluentActions.Invoking(() => GuestPullRequestReader.Parse("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","registryAuthFile":"auth.json"}"""u8.ToArray()))
            .Should().Throw<KataAgent.Image.ImageException>().Which;

        refused.Message.Should().Be("registryAuthFile 'auth.json' is not a normalised absolute path");
    }
}
