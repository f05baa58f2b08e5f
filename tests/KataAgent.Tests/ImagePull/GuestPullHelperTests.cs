using System.Text;
using System.Text.Json;
using FluentAssertions;
using KataAgent.ImagePull;
using KataAgent.Protocols.Guest.ImagePull;
using Xunit;

namespace KataAgent.Tests.ImagePull;

/// <summary>kata-image-pull's edges without a registry: a request that does not parse, a bad field, an image that cannot be reached.</summary>
public sealed class GuestPullHelperTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static async Task<(int Exit, GuestPullResult Result, string Log)> RunAsync(string request)
    {
        using var output = new MemoryStream();
        using var log = new StringWriter();
        int exit = await GuestPull.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(request)), output, log, CancellationToken.None);
        var result = JsonSerializer.Deserialize(output.ToArray(), GuestPullJsonContext.Default.GuestPullResult)!;
        return (exit, result, log.ToString());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("""{"image":"busybox","storeDirectory":"relative","rootfs":"/r"}""")]
    [InlineData("""{"image":"busybox","storeDirectory":"/s","rootfs":"/r/../etc"}""")]
    public async Task A_request_that_is_not_one_is_invalid_input_with_exit_2(string request)
    {
        var (exit, result, _) = await RunAsync(request);

        exit.Should().Be(GuestPullHelper.BadRequest);
        result.Error!.Kind.Should().Be("InvalidInput");
        result.Process.Should().BeNull();
    }

    [Fact]
    public async Task A_malformed_reference_is_invalid_input_naming_it_with_exit_1()
    {
        string request = JsonSerializer.Serialize(new GuestPullRequest { Image = "UPPER/Case::x", StoreDirectory = _temp.File("store"), Rootfs = _temp.File("rootfs") }, GuestPullJsonContext.Default.GuestPullRequest);

        var (exit, result, log) = await RunAsync(request);

        exit.Should().Be(GuestPullHelper.Failed);
        result.Error!.Kind.Should().Be("InvalidInput");
        result.Error.Message.Should().Contain("UPPER/Case::x");
        log.Should().Contain("UPPER/Case::x");
    }

    [Fact]
    public async Task A_registry_that_does_not_answer_is_unavailable_and_the_credentials_show_nowhere()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        var request = new GuestPullRequest
        {
            Image = "127.0.0.1:1/test/app:v1",
            Credentials = new GuestPullCredentials("tester", "hunter2-secret", null),
            PlainHttpRegistries = ["127.0.0.1:1"],
            StoreDirectory = _temp.File("store"),
            Rootfs = _temp.File("rootfs"),
        };

        var (exit, result, log) = await RunAsync(JsonSerializer.Serialize(request, GuestPullJsonContext.Default.GuestPullRequest));

        exit.Should().Be(GuestPullHelper.Failed);
        result.Error!.Kind.Should().Be("Unavailable");
        result.Error.Message.Should().Contain("127.0.0.1:1").And.NotContain("hunter2-secret");
        log.Should().NotContain("hunter2-secret");
        Directory.Exists(_temp.File("rootfs")).Should().BeFalse("nothing is unpacked when the pull fails");
    }
}
