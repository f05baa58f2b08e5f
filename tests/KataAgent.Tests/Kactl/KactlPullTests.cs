using CliWrap;
using FluentAssertions;
using KataAgent.Tests.HostImages;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.Kactl;

/// <summary>
/// The published out/kactl's image commands against a test registry with Basic auth (root): on a terminal, pull draws
/// Spectre.Console bars per layer (escape sequences, the percentage, the phase) with the credentials from
/// <c>$DOCKER_CONFIG</c>; without credentials the pull fails with exit 4 naming the registry and where kactl reads
/// credentials; the credentials from a credential helper (<c>credsStore</c>) found in PATH; then images, rmi and rmi
/// --prune over one store; two pulls of one image at once into one store.
/// </summary>
public sealed class KactlPullTests(HostImagesRegistryFixture fixture) : IClassFixture<HostImagesRegistryFixture>, IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private Dictionary<string, string?> Environment(bool credentials = true) => new()
    {
        ["KACTL_IMAGE_STORE"] = _scratch.File("store"),
        ["KACTL_RUN_DIR"] = _scratch.File("run"),
        // An empty directory: no credentials at all (not even the user's own ~/.docker).
        ["DOCKER_CONFIG"] = credentials ? fixture.DockerConfigDirectory : Directory.CreateDirectory(_scratch.File("no-docker")).FullName,
    };

    [Fact]
    public async Task Pull_on_a_terminal_draws_a_bar_per_layer_and_prints_the_name_and_digest()
    {
        await using var terminal = new PtyTerminal();

        var pull = terminal.Run(Environment(), "pull", "--plain-http", fixture.Registry.Host, fixture.Reference);
        var result = await pull.WaitAsync(TimeSpan.FromMinutes(2));

        string screen = terminal.Output;
        result.ExitCode.Should().Be(0, screen);
        screen.Should().Contain("\x1b[", "Spectre.Console draws with escape sequences on a terminal")
            .And.Contain("100%")
            .And.Contain($"pull {fixture.Reference}")
            .And.MatchRegex(@"[0-9a-f]{12} (downloaded|already stored)")
            .And.MatchRegex($@"{System.Text.RegularExpressions.Regex.Escape(fixture.Reference)} sha256:[0-9a-f]{{64}}\r?\n");
    }

    [Fact]
    public async Task Without_credentials_pull_exits_4_naming_the_registry_and_where_credentials_come_from()
    {
        var result = await KactlRunner.RunAsync(["pull", "--plain-http", fixture.Registry.Host, fixture.Reference], environment: Environment(credentials: false), limit: TimeSpan.FromMinutes(2));

        result.ExitCode.Should().Be(4, KactlRunner.Describe(result));
        result.StandardError.Should().StartWith("kactl: ").And.Contain(fixture.Registry.Host).And.Contain("kactl reads credentials from");
        result.StandardOutput.Should().BeEmpty();
    }

    [Fact]
    public async Task Pull_takes_the_credentials_from_the_credential_helper_docker_config_names()
    {
        // A helper of the test's own in a PATH directory of its own: it records what it was asked and answers with
        // the registry's user and password; the config has no auths at all.
        string bin = _scratch.CreateDirectory("bin");
        string helper = Path.Combine(bin, "docker-credential-kafake");
        File.WriteAllText(helper, $$"""
            #!/bin/sh
            cat > '{{bin}}/asked'
            printf '%s' '{"ServerURL":"{{fixture.Registry.Host}}","Username":"{{fixture.Registry.Options.User}}","Secret":"{{fixture.Registry.Options.Password}}"}'
            """ + "\n");
        File.SetUnixFileMode(helper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string docker = _scratch.CreateDirectory("docker-helper");
        File.WriteAllText(Path.Combine(docker, "config.json"), """{"credsStore":"kafake"}""");
        var environment = Environment();
        environment["DOCKER_CONFIG"] = docker;
        environment["PATH"] = bin + ":" + System.Environment.GetEnvironmentVariable("PATH");

        var pull = await KactlRunner.RunAsync(["pull", "--plain-http", fixture.Registry.Host, fixture.Reference], environment: environment, limit: TimeSpan.FromMinutes(2));

        pull.ExitCode.Should().Be(0, KactlRunner.Describe(pull));
        File.ReadAllText(Path.Combine(bin, "asked")).Should().Be(fixture.Registry.Host, "the helper is asked for the image's registry");
        pull.StandardError.Should().NotContain(fixture.Registry.Options.Password);
    }

    [Fact]
    public async Task Two_kactl_pulls_of_one_image_into_one_store_at_once_both_succeed_and_leave_a_whole_store()
    {
        var environment = Environment();
        string store = environment["KACTL_IMAGE_STORE"]!;

        // Two processes started together: the store's flocks are all that keeps them from writing one blob twice.
        var pulls = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
            KactlRunner.RunAsync(["pull", "--plain-http", fixture.Registry.Host, fixture.Reference], environment: environment, limit: TimeSpan.FromMinutes(2))));

        foreach (var pull in pulls)
        {
            pull.ExitCode.Should().Be(0, KactlRunner.Describe(pull));
        }
        pulls[0].StandardOutput.Should().MatchRegex($@"^{System.Text.RegularExpressions.Regex.Escape(fixture.Reference)} sha256:[0-9a-f]{{64}}\n$")
            .And.Be(pulls[1].StandardOutput, "both name the one manifest");
        var image = new KataAgent.Image.Store.ContentStore(store).FindImage(fixture.Reference);
        image.Should().NotBeNull();
        string blobs = Path.Combine(store, "blobs", "sha256");
        var expected = new[] { image!.ManifestDigest.Hex, image.ConfigDigest.Hex }
            .Concat(image.Manifest.Layers.Select(layer => KataAgent.Image.References.Digest.Parse(layer.Digest).Hex)).ToHashSet();
        Directory.GetFiles(blobs).Select(Path.GetFileName).Should().BeEquivalentTo(expected, "each blob of the image once, nothing else");
        foreach (string blob in Directory.GetFiles(blobs))
        {
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(blob))).Should().Be(Path.GetFileName(blob), "every stored blob is whole");
        }
        Directory.EnumerateFiles(store, "*", SearchOption.AllDirectories)
            .Where(path => path.EndsWith(".partial", StringComparison.Ordinal) || Path.GetFileName(path).Contains(".tmp-", StringComparison.Ordinal))
            .Should().BeEmpty("no partial download or temporary file is left");
        Directory.GetFiles(Path.Combine(store, "images")).Should().ContainSingle("one record for the one name");
        (await KactlRunner.RunAsync(["images", "-q"], environment: environment)).StandardOutput.Should().Be($"{image.ManifestDigest.Hex[..12]}\n");
    }

    [Fact]
    public async Task Pull_images_rmi_and_prune_over_one_store()
    {
        var pull = await KactlRunner.RunAsync(["pull", "--plain-http", fixture.Registry.Host, fixture.Reference], environment: Environment(), limit: TimeSpan.FromMinutes(2));
        pull.ExitCode.Should().Be(0, KactlRunner.Describe(pull));
        pull.StandardError.Should().MatchRegex(@"(?m)^kactl: pull .*: layer 1 [0-9a-f]{12}: downloaded ", "stderr is a pipe here: lines, not bars");
        string digest = pull.StandardOutput.Trim().Split(' ')[1];
        var load = await KactlRunner.RunAsync(["load", fixture.Archive, "--name", "example.com/also/app:v1"], environment: Environment());
        load.ExitCode.Should().Be(0, KactlRunner.Describe(load));
        load.StandardOutput.Should().Be($"example.com/also/app:v1 {digest}\n");

        var images = await KactlRunner.RunAsync(["images"], environment: Environment());
        var ids = await KactlRunner.RunAsync(["images", "-q"], environment: Environment());
        images.StandardOutput.Should().MatchRegex($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(fixture.Reference)}\s+{digest[7..19]}\s+[\d.]+ MiB\s+\d+s ago$");
        ids.StandardOutput.Should().Be($"{digest[7..19]}\n{digest[7..19]}\n");

        var rmiByName = await KactlRunner.RunAsync(["rmi", "example.com/also/app:v1", "--prune"], environment: Environment());
        rmiByName.ExitCode.Should().Be(0, KactlRunner.Describe(rmiByName));
        rmiByName.StandardOutput.Should().Be("example.com/also/app:v1\n");
        rmiByName.StandardError.Should().Be("kactl: pruned 0 B\n", "the other name still holds every blob");
        var rmiById = await KactlRunner.RunAsync(["rmi", digest[7..19], "--prune"], environment: Environment());
        rmiById.ExitCode.Should().Be(0, KactlRunner.Describe(rmiById));
        rmiById.StandardOutput.Should().Be(fixture.Reference + "\n");
        rmiById.StandardError.Should().MatchRegex(@"^kactl: pruned [\d.]+ (KiB|MiB)\n$");
        (await KactlRunner.RunAsync(["images", "-q"], environment: Environment())).StandardOutput.Should().BeEmpty();
    }
}
