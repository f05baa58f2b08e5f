using KataAgent.Testing.Registry;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Testing.Images;
using KataAgent.VmTests.Infrastructure;
using Xunit;

namespace KataAgent.VmTests.Images;

/// <summary>
/// <c>kactl run --pull guest IMAGE</c> end to end: the published out/kactl boots out/initrd-guest-pull.img (next to
/// it) in a pod netns of its own leading to the fixture's registry (HTTPS with the test CA given by <c>--ca</c>, Basic
/// auth from a docker config file in <c>DOCKER_CONFIG</c>), and the layered image runs with its config's
/// entrypoint, env, workdir and user while the host is scanned for any file of it.
/// </summary>
public sealed partial class GuestPullTests
{
    [Fact]
    public async Task Kactl_run_pull_guest_runs_the_images_entrypoint_over_https_and_the_host_never_holds_a_file_of_it()
    {
        using var safety = new CancellationTokenSource(Limit);
        using var directory = new TempDirectory();
        using var network = new RegistryPodNetwork(fixture.Registry);
        string dockerConfig = directory.CreateDirectory("docker");
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{fixture.Registry.Options.User}:{fixture.Registry.Options.Password}"));
        await File.WriteAllTextAsync(Path.Combine(dockerConfig, "config.json"), "{\"auths\":{\"" + fixture.Registry.Host + "\":{\"auth\":\"" + auth + "\"}}}", safety.Token);
        string store = directory.File("store");
        string runDirectory = directory.File("run");
        var scan = new HostImageScan(GuestPullImages.Token, fixture.LayeredBlobs, fixture.Registry.StorageDirectory);
        (await scan.FindAsync(safety.Token)).Should().BeEmpty("before the pull nothing of the image is on the host");

        string[] arguments = ["run", "--pull", "guest", "--netns", network.PodPath, "--ca", fixture.Registry.CaBundlePath!, fixture.LayeredReference];
        var run = Cli.Wrap(RepoPaths.KactlBinary)
            .WithArguments(arguments)
            .WithEnvironmentVariables(env =>
            {
                env.Set("DOCKER_CONFIG", dockerConfig);
                env.Set("KACTL_IMAGE_STORE", store);
                env.Set("KACTL_RUN_DIR", runDirectory);
                env.Set("KACTL_GUEST_PULL_INITRD", null);
                env.Set("KATA_AGENT_ADDR", null);
            })
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(safety.Token);
        // Scans go on while kactl boots the VM and the guest pulls: a copy the host held for a moment would show.
        var findings = new List<string>();
        int scans = 0;
        while (!run.Task.IsCompleted)
        {
            findings.AddRange(await scan.FindAsync(safety.Token));
            scans++;
        }
        var result = await run;
        findings.AddRange(await scan.FindAsync(safety.Token));
        output.WriteLine($"$ kactl {string.Join(' ', arguments)}\nexit code {result.ExitCode}\nstdout:\n{result.StandardOutput}\nstderr:\n{result.StandardError}\n{scans} scans while it ran");

        result.ExitCode.Should().Be(0, result.StandardError);
        result.StandardOutput.Should().Be(BusyboxAppImage.DefaultLine + "\n", "the image's entrypoint, Cmd, env, workdir and user (resolved in its /etc/passwd) apply");
        result.StandardError.Should().NotContain(fixture.Registry.Options.Password, "the password goes to the guest, never to a log");
        findings.Should().BeEmpty("the host holds no layer, blob or rootfs file of a guest-pulled image");
        Directory.Exists(store).Should().BeFalse("a guest pull opens no host store");
        Directory.EnumerateFileSystemEntries(runDirectory).Should().BeEmpty("an attached run leaves no state");
    }
}
