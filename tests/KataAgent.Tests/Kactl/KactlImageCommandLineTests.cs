using System.CommandLine;
using FluentAssertions;
using KataAgent.Image;
using KataAgent.Image.Manifests;
using KataAgent.Image.References;
using KataAgent.Image.Store;
using KataAgent.Kactl;
using KataAgent.Kactl.Images;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// kactl's image commands and <c>run IMAGE</c> refuse bad command lines before they pull or boot anything (exit 2, one
/// line naming the problem), and image failures come out as exit 4 (exit 2 for what the user typed wrong) with the
/// image named. The published out/kactl, each run with a store and run directory of its own.
/// </summary>
public sealed class KactlImageCommandLineTests : IDisposable
{
    private const int Usage = 2;
    private const int ImageFailed = 4;

    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private Dictionary<string, string?> Environment => new()
    {
        [ImageOptions.StoreVariable] = _scratch.File("store"),
        ["KACTL_RUN_DIR"] = _scratch.File("run"),
    };

    [Theory]
    [InlineData(new[] { "run", "busybox", "--rootfs", "/tmp" }, "an image ('busybox') and --rootfs do not go together")]
    [InlineData(new[] { "run", "busybox", "sh", "--", "-c", "true" }, "one image, then the command after --: kactl run IMAGE -- CMD… (got 'busybox sh' before --)")]
    [InlineData(new[] { "run", "--entrypoint", "/bin/sh", "--", "true" }, "--entrypoint is for an image run (kactl run IMAGE [-- CMD…])")]
    [InlineData(new[] { "run", "--user", "nobody", "--", "true" }, "--user is for an image run")]
    [InlineData(new[] { "run", "--pull", "always", "--", "true" }, "--pull is for an image run")]
    [InlineData(new[] { "run", "--plain-http", "127.0.0.1:5000", "--", "true" }, "--plain-http is for an image run")]
    [InlineData(new[] { "run", "--pull", "sometimes", "busybox" }, "sometimes")]
    [InlineData(new[] { "run", "--workdir", "relative", "busybox" }, "--workdir 'relative' is not an absolute path")]
    [InlineData(new[] { "run", "--env", "NOVALUE", "busybox" }, "--env 'NOVALUE' is not NAME=VALUE")]
    [InlineData(new[] { "run", "--platform", "linux", "busybox" }, "--platform: platform 'linux' is not os/arch[/variant]")]
    [InlineData(new[] { "run", "--bundle", "/b", "--pull", "never" }, "--pull is for a VM run")]
    [InlineData(new[] { "run", "--bundle", "/b", "--env", "A=B" }, "--env is for a VM run")]
    [InlineData(new[] { "rmi" }, "name an image to remove (kactl images lists them), or give --prune")]
    [InlineData(new[] { "pull" }, "Required argument missing for command: 'pull'")]
    [InlineData(new[] { "load" }, "Required argument missing for command: 'load'")]
    [InlineData(new[] { "pull", "--platform", "linux/amd64/v1/x", "busybox" }, "--platform: platform 'linux/amd64/v1/x' is not os/arch[/variant]")]
    [InlineData(new[] { "pull", "Busybox:latest" }, "Busybox:latest")]
    [InlineData(new[] { "pull", "busybox", "--ca", "/nonexistent/ca.pem" }, "--ca: the CA file /nonexistent/ca.pem does not exist")]
    [InlineData(new[] { "load", "/nonexistent/layout" }, "/nonexistent/layout does not exist")]
    public async Task Bad_command_lines_exit_2_with_a_message_naming_the_problem(string[] arguments, string message)
    {
        var result = await KactlRunner.RunAsync(arguments, environment: Environment);

        result.ExitCode.Should().Be(Usage, KactlRunner.Describe(result));
        result.StandardOutput.Should().BeEmpty();
        result.StandardError.Should().StartWith("kactl: ").And.Contain(message);
        Directory.Exists(_scratch.File("run")).Should().BeFalse("nothing is booted for a bad command line");
    }

    [Fact]
    public async Task An_empty_store_lists_the_header_only_and_rmi_of_a_missing_image_exits_4_naming_it()
    {
        var images = await KactlRunner.RunAsync(["images"], environment: Environment);
        var rmi = await KactlRunner.RunAsync(["rmi", "busybox", "alpine:3"], environment: Environment);

        images.ExitCode.Should().Be(0, KactlRunner.Describe(images));
        images.StandardOutput.Should().MatchRegex(@"^NAME\s+ID\s+SIZE\s+STORED\n$");
        rmi.ExitCode.Should().Be(ImageFailed, KactlRunner.Describe(rmi));
        rmi.StandardError.Should().Be($"kactl: no image 'busybox', 'alpine:3' in the store {_scratch.File("store")} ('kactl images' lists them)\n");
    }

    [Fact]
    public async Task Run_with_pull_never_and_an_image_not_stored_exits_4_before_booting()
    {
        RequireGuestImage();

        var result = await KactlRunner.RunAsync(["run", "--pull", "never", "127.0.0.1:1/none/such:tag", "--", "true"], environment: Environment);

        result.ExitCode.Should().Be(ImageFailed, KactlRunner.Describe(result));
        result.StandardError.Should().Be($"kactl: image '127.0.0.1:1/none/such:tag' is not in the store {_scratch.File("store")} and the pull policy is never\n");
        Directory.Exists(_scratch.File("run")).Should().BeFalse("the image is looked for before a sandbox directory is made");
    }

    [Fact]
    public async Task A_registry_nobody_serves_exits_4_naming_it_with_the_plain_http_hint()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        var result = await KactlRunner.RunAsync(["pull", "--plain-http", "127.0.0.1:1", "127.0.0.1:1/none/such:tag"], environment: Environment, limit: TimeSpan.FromMinutes(2));

        result.ExitCode.Should().Be(ImageFailed, KactlRunner.Describe(result));
        result.StandardError.Should().Contain("127.0.0.1:1").And.Contain("--plain-http REGISTRY");
        result.StandardOutput.Should().BeEmpty();
    }

    [Theory]
    [InlineData(new[] { "run", "busybox" }, new[] { "busybox" }, new string[0])]
    [InlineData(new[] { "run", "busybox", "--", "echo", "hi" }, new[] { "busybox" }, new[] { "echo", "hi" })]
    [InlineData(new[] { "run", "--", "sh", "-c", "true" }, new string[0], new[] { "sh", "-c", "true" })]
    [InlineData(new[] { "run", "--memory", "1G", "img", "-e", "A=B", "--", "a", "--", "b" }, new[] { "img" }, new[] { "a", "--", "b" })]
    [InlineData(new[] { "run", "img", "--" }, new[] { "img" }, new string[0])]
    public void The_words_before_the_double_dash_are_the_image_and_those_after_it_the_command(string[] arguments, string[] before, string[] after)
    {
        var root = KactlCommands.Build();
        var parseResult = root.Parse(arguments);
        parseResult.Errors.Should().BeEmpty();
        var words = parseResult.GetValue<string[]>("[IMAGE] -- CMD") ?? [];

        var split = RunCommand.SplitAtDoubleDash(parseResult, words);

        split.BeforeDoubleDash.Should().Equal(before);
        split.AfterDoubleDash.Should().Equal(after);
    }

    [Fact]
    public void Images_prints_name_short_id_size_and_age_in_columns()
    {
        var now = new DateTimeOffset(2026, 12, 5, 21, 0, 0, TimeSpan.Zero);
        StoredImage Image(string name, string hex, long size, TimeSpan age) => new(
            name, Digest.Parse("sha256:" + hex), new ImageManifest(), Digest.Parse("sha256:" + new string('c', 64)), new ImageConfig(), size, now - age);

        string table = ImagesCommand.Format(
        [
            Image("127.0.0.1:5000/test/busybox:latest", "9646c0d2a3f1" + new string('0', 52), 1_084_465, TimeSpan.FromMinutes(5)),
            Image("docker.io/library/alpine:3", "abcdef012345" + new string('1', 52), 3_500_000_000, TimeSpan.FromDays(3)),
        ], now);

        table.Should().Be(
            "NAME                                ID            SIZE      STORED\n" +
            "127.0.0.1:5000/test/busybox:latest  9646c0d2a3f1  1.03 MiB  5m ago\n" +
            "docker.io/library/alpine:3          abcdef012345  3.26 GiB  3d ago\n");
    }

    [Theory]
    [InlineData(ImageErrorKind.InvalidInput, Usage)]
    [InlineData(ImageErrorKind.NotFound, ImageFailed)]
    [InlineData(ImageErrorKind.Unauthorized, ImageFailed)]
    [InlineData(ImageErrorKind.DigestMismatch, ImageFailed)]
    [InlineData(ImageErrorKind.Unavailable, ImageFailed)]
    [InlineData(ImageErrorKind.PathEscape, ImageFailed)]
    [InlineData(ImageErrorKind.Unsupported, ImageFailed)]
    public void Image_failures_map_to_exit_codes_by_kind(ImageErrorKind kind, int exitCode)
    {
        ExitCodes.For(new ImageException(kind, "x")).Should().Be(exitCode);
    }

    [Fact]
    public void Refused_credentials_say_where_kactl_reads_them()
    {
        ImageErrors.Describe(new ImageException(ImageErrorKind.Unauthorized, "registry 127.0.0.1:5000 refused the credentials for test/busybox"))
            .Should().StartWith("registry 127.0.0.1:5000 refused the credentials for test/busybox (kactl reads credentials from ")
            .And.Contain("config.json");
    }

    private static void RequireGuestImage()
    {
        // run checks the kernel and initrd before it looks for the image.
        _ = RepoPaths.Kernel;
        _ = RepoPaths.Initrd;
    }
}
