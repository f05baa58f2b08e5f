using System.Text;
using System.Text.Json;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.ImagePull;
using KataAgent.Protocols.Guest.ImagePull;
using Xunit;

namespace KataAgent.Tests.ImagePull;

/// <summary>
/// kata-image-pull's request parsing: missing or null optional fields take their defaults (a request without
/// <c>plainHttpRegistries</c> used to abort the helper), everything the agent writes reads back, and each malformed
/// field is InvalidInput naming it (exit 2 from the helper).
/// </summary>
public sealed class GuestPullRequestReaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static GuestPullRequest Parse(string json) => GuestPullRequestReader.Parse(Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r"}""")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","platform":null,"credentials":null,"caPem":null,"plainHttpRegistries":null,"entrypoint":null,"args":null,"env":null,"user":null}""")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","someFutureField":{"x":[1,2]}}""")]
    public void Missing_null_and_unknown_optional_fields_take_their_defaults(string json)
    {
        var request = Parse(json);

        request.Image.Should().Be("busybox");
        request.StoreDirectory.Should().Be("/s");
        request.Rootfs.Should().Be("/r");
        request.PlainHttpRegistries.Should().BeEmpty();
        request.Platform.Should().BeNull();
        request.Credentials.Should().BeNull();
        request.CaPem.Should().BeNull();
        request.Entrypoint.Should().BeNull("no entrypoint given keeps the image's, which an empty one would not");
        request.Args.Should().BeNull();
        request.Env.Should().BeNull();
        request.User.Should().BeNull();
    }

    [Fact]
    public void Every_field_the_agent_writes_reads_back()
    {
        var sent = new GuestPullRequest
        {
            Image = "10.0.0.2:5000/test/app:v1",
            Platform = "linux/arm64/v8",
            Credentials = new GuestPullCredentials("tester", "pa\"ss", "refresh"),
            CaPem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            PlainHttpRegistries = ["10.0.0.2:5000", "localhost"],
            StoreDirectory = "/run/kata-containers/image/mem/c1/store",
            Rootfs = "/run/kata-containers/image/mem/c1/rootfs",
            Entrypoint = [],
            Args = ["-c", "echo hi"],
            Env = ["A=1", "B="],
            User = "app:staff",
        };

        var read = GuestPullRequestReader.Parse(JsonSerializer.SerializeToUtf8Bytes(sent, GuestPullJsonContext.Default.GuestPullRequest));

        read.Should().BeEquivalentTo(sent);
        read.Credentials.Should().Be(sent.Credentials);
    }

    [Fact]
    public void Credentials_with_only_an_identity_token_read_with_an_empty_user_and_password()
    {
        var request = Parse("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","credentials":{"identityToken":"refresh"}}""");

        request.Credentials.Should().Be(new GuestPullCredentials("", "", "refresh"));
    }

    [Theory]
    [InlineData("""{"storeDirectory":"/s","rootfs":"/r"}""", "image is missing")]
    [InlineData("""{"image":null,"storeDirectory":"/s","rootfs":"/r"}""", "image is null, not a string")]
    [InlineData("""{"image":"busybox","rootfs":"/r"}""", "storeDirectory is missing")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s"}""", "rootfs is missing")]
    [InlineData("""{"image":7,"storeDirectory":"/s","rootfs":"/r"}""", "image is a number, not a string")]
    [InlineData("""{"image":"busybox","image":"alpine","storeDirectory":"/s","rootfs":"/r"}""", "image is given twice")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","platform":["linux"]}""", "platform is an array, not a string")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","plainHttpRegistries":"10.0.0.2:5000"}""", "plainHttpRegistries is a string, not an array of strings")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","plainHttpRegistries":["a",null]}""", "plainHttpRegistries[1] is null, not a string")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","env":["A=1",{"B":"2"}]}""", "env[1] is an object, not a string")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","entrypoint":true}""", "entrypoint is a boolean, not an array of strings")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","args":[1]}""", "args[0] is a number, not a string")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","credentials":"tester:secret"}""", "credentials is a string, not an object")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","credentials":{"username":"tester","password":42}}""", "credentials.password is a number, not a string")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r","credentials":{"username":"a","username":"b"}}""", "credentials.username is given twice")]
    [InlineData("""{"image":"busybox","storeDirectory":"relative","rootfs":"/r"}""", "storeDirectory 'relative' is not a normalised absolute path")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r/../etc"}""", "rootfs '/r/../etc' is not a normalised absolute path")]
    [InlineData("""[{"image":"busybox"}]""", "the request is an array, not an object")]
    [InlineData("null", "the request is null, not an object")]
    [InlineData("{\"image\":\"busybox\",\n\"rootfs\":", "the request is not JSON: it breaks at line 2")]
    [InlineData("", "the request is not JSON")]
    public void A_malformed_field_is_invalid_input_naming_it(string json, string message)
    {
        var refused = FluentActions.Invoking(() => Parse(json)).Should().Throw<ImageException>().Which;

        refused.Kind.Should().Be(ImageErrorKind.InvalidInput);
        refused.Message.Should().StartWith(message);
    }

    [Fact]
    public async Task A_request_larger_than_the_limit_is_refused_without_reading_it_all()
    {
        var input = new MemoryStream(new byte[GuestPullRequestReader.MaxRequestBytes + 1]);

        var refused = await FluentActions.Awaiting(() => GuestPullRequestReader.ReadAsync(input, CancellationToken.None)).Should().ThrowAsync<ImageException>();

        refused.Which.Message.Should().Contain("larger than");
    }

    [Fact]
    public async Task The_helper_exits_2_naming_the_field_on_stdout_and_stderr()
    {
        using var output = new MemoryStream();
        using var log = new StringWriter();
        string json = """{"image":"busybox","storeDirectory":"/s","rootfs":"/r","plainHttpRegistries":[null]}""";

        int exit = await GuestPull.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(json)), output, log, CancellationToken.None);

        exit.Should().Be(GuestPullHelper.BadRequest);
        var result = JsonSerializer.Deserialize(output.ToArray(), GuestPullJsonContext.Default.GuestPullResult)!;
        result.Error!.Kind.Should().Be("InvalidInput");
        result.Error.Message.Should().Be("plainHttpRegistries[0] is null, not a string");
        log.ToString().Should().Contain("plainHttpRegistries[0]");
    }

    [Fact]
    public async Task A_request_without_plain_http_registries_pulls_over_https_instead_of_aborting()
    {
        // Port 1 on loopback: nothing listens, so the HTTPS pull fails at once as Unavailable, which is the helper
        // getting past the request (it used to abort on the missing list before any connection).
        using var output = new MemoryStream();
        using var log = new StringWriter();
        string json = $$"""{"image":"127.0.0.1:1/test/app:v1","storeDirectory":"{{_temp.File("store")}}","rootfs":"{{_temp.File("rootfs")}}"}""";

        int exit = await GuestPull.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(json)), output, log, CancellationToken.None);

        exit.Should().Be(GuestPullHelper.Failed, log.ToString());
        var result = JsonSerializer.Deserialize(output.ToArray(), GuestPullJsonContext.Default.GuestPullResult)!;
        result.Error!.Kind.Should().Be("Unavailable");
        result.Error.Message.Should().Contain("127.0.0.1:1");
    }
}
