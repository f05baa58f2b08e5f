using System.Text.RegularExpressions;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Testing.Images;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Images;

/// <summary>
/// The published out/kactl running images from a test registry in VMs of out/vmlinuz and out/initrd.img (TCG without
/// /dev/kvm), stderr a pipe (so progress comes as lines): <c>kactl run IMAGE</c> pulls with a line per layer phase
/// and runs the image's entrypoint with its env, workdir and user; overrides on the command line (and the blk rootfs
/// mode); <c>run -d</c>, then ps, exec, logs and rm leaving no state. Three boots, one registry.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed class KactlRunImageTests(KactlImageFixture fixture, ITestOutputHelper output) : IClassFixture<KactlImageFixture>
{
    // A boot under TCG on a loaded 2-core machine takes seconds to tens of seconds: a safety limit, not a measure.
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private async Task<BufferedCommandResult> Kactl(params string[] arguments)
    {
        using var safety = new CancellationTokenSource(Limit);
        var result = await Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(arguments)
            .WithEnvironmentVariables(env =>
            {
                env.Set("KACTL_IMAGE_STORE", fixture.Store);
                env.Set("KACTL_RUN_DIR", fixture.RunDirectory);
                env.Set("KATA_AGENT_ADDR", null);
            })
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(safety.Token);
        output.WriteLine($"$ kactl {string.Join(' ', arguments)}\nexit code {result.ExitCode}\nstdout:\n{result.StandardOutput}\nstderr:\n{result.StandardError}");
        return result;
    }

    private static string Describe(BufferedCommandResult result) =>
        $"exit code {result.ExitCode}\nstdout:\n{result.StandardOutput}\nstderr:\n{result.StandardError}";

    [Fact]
    public async Task Run_image_pulls_with_progress_lines_and_runs_its_entrypoint_with_its_env_workdir_and_user_then_override_and_detach()
    {
        _ = RepoPaths.Kernel;
        _ = RepoPaths.Initrd;
        // Fresh store: the first run pulls.
        if (Directory.Exists(fixture.Store))
        {
            Directory.Delete(fixture.Store, recursive: true);
        }

        var first = await Kactl("run", "--plain-http", fixture.Registry.Host, fixture.Reference);

        first.ExitCode.Should().Be(0, Describe(first));
        first.StandardOutput.Should().Be(BusyboxAppImage.DefaultLine + "\n");
        var stderr = first.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string layer = $@"^kactl: pull {Regex.Escape(fixture.Reference)}: layer 1 [0-9a-f]{{12}}: ";
        stderr.Should().Contain(line => Regex.IsMatch(line, layer + @"downloading \d"), "a line when the layer starts downloading")
            .And.Contain(line => Regex.IsMatch(line, layer + @"downloaded [\d.]+ [KM]iB in [\d.]+ s \(([\d.]+ [KM]?i?B/s|-)\)$"), "a line with its bytes, time and rate when it is done")
            .And.Contain(line => Regex.IsMatch(line, $@"^kactl: unpack {Regex.Escape(fixture.Reference)}: layer 1 [0-9a-f]{{12}}: unpacked "), "the unpack's line")
            .And.Contain("kactl: container started");
        stderr.Count(line => line.Contains("downloading", StringComparison.Ordinal)).Should().Be(1, "one line per phase change, not per chunk");
        Directory.EnumerateFileSystemEntries(fixture.RunDirectory).Should().BeEmpty("an attached run leaves no state, unpacked rootfs included");

        var images = await Kactl("images");
        images.StandardOutput.Should().MatchRegex($@"(?m)^{Regex.Escape(fixture.Reference)}\s+[0-9a-f]{{12}}\s+[\d.]+ [KM]iB\s+\d+[smhd] ago$");

        // Everything the command line changes, with the image already stored (pull always: the registry says
        // nothing changed, no layer is downloaded again) and its rootfs on a hot-plugged ext4 disk.
        var overridden = await Kactl("run", "--plain-http", fixture.Registry.Host, "--pull", "always", "--rootfs-mode", "blk",
            "--env", "GREETING=from-cli", "--workdir", "/tmp", "--user", "nobody", fixture.Reference, "--", "x", "y");
        overridden.ExitCode.Should().Be(0, Describe(overridden));
        overridden.StandardOutput.Should().Be(BusyboxAppImage.Line("from-cli", "/tmp", "65534:65534", "65534", "x y") + "\n");
        overridden.StandardError.Should().MatchRegex(@"(?m)^kactl: pull .*: layer 1 [0-9a-f]{12}: already stored \(").And.NotContain("downloading");

        var entrypoint = await Kactl("run", "--pull", "never", "-q", "--entrypoint", "/bin/sh", fixture.Reference, "--", "-c", "cat note.txt; exit 5");
        entrypoint.ExitCode.Should().Be(5, Describe(entrypoint));
        entrypoint.StandardOutput.Should().Be("a note in the image\n");
        entrypoint.StandardError.Should().BeEmpty("-q: no progress at all");

        var detached = await Kactl("run", "-d", "--pull", "never", "--user", "0", "--entrypoint", "/bin/sh", fixture.Reference, "--", "-c", "echo written > /srv/app/out.txt; exec sleep 100000");
        detached.ExitCode.Should().Be(0, Describe(detached));
        string id = detached.StandardOutput.Trim();
        id.Should().MatchRegex("^[0-9a-f]{8}$");
        string sandbox = Path.Combine(fixture.RunDirectory, id);
        try
        {
            Directory.Exists(Path.Combine(sandbox, "image-rootfs", id)).Should().BeTrue("a virtio-fs container's unpacked rootfs lives in the sandbox's state");
            (await Kactl("ps")).StandardOutput.Should().MatchRegex($@"(?m)^{id}\s+{id}\s+running\s+\d+[sm]\s+/bin/sh -c 'echo written > /srv/app/out.txt; exec sleep 100000'$", "ps shows the process the image run got");
            var exec = await Kactl("exec", id, "--", "cat", "/srv/app/out.txt");
            exec.StandardOutput.Should().Be("written\n", Describe(exec));
            var logs = await Kactl("logs", id);
            logs.ExitCode.Should().Be(0, Describe(logs));
            logs.StandardOutput.Should().Contain($"container {id} created");
        }
        finally
        {
            var rm = await Kactl("rm", id);
            rm.ExitCode.Should().Be(0, Describe(rm));
        }
        Directory.Exists(sandbox).Should().BeFalse("rm removes the sandbox's state and the unpacked rootfs with it");
    }
}
