using System.Text;
using FluentAssertions;
using KataAgent.Host;
using KataAgent.Host.Containers;
using KataAgent.Host.Images;
using KataAgent.Image.Registry;
using KataAgent.Protocols.Agent;
using KataAgent.Testing.Images;
using KataAgent.VmTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.VmTests.Images;

/// <summary>
/// Guest pull end to end under qemu (TCG): one sandbox of out/initrd-guest-pull.img whose pod network leads to a
/// test registry (Basic auth, HTTPS with a test CA given to the guest as PEM: the guest image's OpenSSL at work). Sandbox.CreateContainerFromGuestPullAsync sends PullImage (credentials
/// to the guest only) and CreateContainer with Kata's image_guest_pull storage: the busybox app image runs with its
/// entrypoint, env, workdir and user; the layered image's whiteout and opaque directory are applied; the host holds
/// no file of the image while it is pulled and run (<see cref="HostImageScan"/>); an index gives this platform's
/// manifest, whose layer is tar+zstd; a wrong password is
/// UNAUTHENTICATED naming the registry, and the agent serves on.
/// </summary>
[Collection(DebianKernelCollection.Name)]
public sealed partial class GuestPullTests(GuestPullFixture fixture, ITestOutputHelper output) : IClassFixture<GuestPullFixture>
{
    // A pull and a start under TCG on a loaded 2-core machine: a safety limit, not a measure.
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);

    private GuestPullOptions Pull(ImageProcessOverrides? overrides = null, RegistryCredentials? credentials = null) => new()
    {
        Credentials = credentials ?? fixture.Registry.Credentials,
        CaPem = fixture.CaPem,
        Overrides = overrides ?? new ImageProcessOverrides(),
    };

    [Fact]
    public async Task Guest_pull_of_the_busybox_image_runs_its_entrypoint_with_its_env_workdir_and_user()
    {
        using var safety = new CancellationTokenSource(Limit);
        var container = await fixture.Sandbox.CreateContainerFromGuestPullAsync("app", fixture.AppReference, Pull(), cancellationToken: safety.Token);
        string stdout = await RunToEndAsync(container, safety.Token);
        stdout.Should().Be(BusyboxAppImage.DefaultLine + "\n", "the image's entrypoint, Cmd, env, workdir and user (resolved in the image's /etc/passwd) apply");
        await fixture.Sandbox.RemoveContainerAsync("app", cancellationToken: safety.Token);
    }

    [Fact]
    public async Task Guest_pull_of_the_layered_image_applies_whiteouts_and_the_opaque_directory_and_the_host_never_holds_a_file_of_it()
    {
        using var safety = new CancellationTokenSource(Limit);
        var scan = new HostImageScan(GuestPullImages.Token, fixture.LayeredBlobs, fixture.Registry.StorageDirectory);
        (await scan.FindAsync(safety.Token)).Should().BeEmpty("before the pull nothing of the image is on the host");
        var overrides = new ImageProcessOverrides
        {
            Entrypoint = ["/bin/sh", "-c", "cat /data/token.txt; echo srv-app: $(ls -A /srv/app); echo conf.d: $(ls -A /etc/conf.d)"],
            Args = [],
        };
        var create = fixture.Sandbox.CreateContainerFromGuestPullAsync("layered", fixture.LayeredReference, Pull(overrides), cancellationToken: safety.Token);
        // Scans go on while the guest pulls and unpacks: a copy the host held for a moment would show.
        var findings = new List<string>();
        int scans = 0;
        while (!create.IsCompleted)
        {
            findings.AddRange(await scan.FindAsync(safety.Token));
            scans++;
        }
        var container = await create;
        string stdout = await RunToEndAsync(container, safety.Token);
        findings.AddRange(await scan.FindAsync(safety.Token));
        output.WriteLine($"{scans} scans while pulling, one after the run");

        stdout.Should().Be($"{GuestPullImages.Token}\nsrv-app:\nconf.d: new.conf\n",
            "the token file of layer 2 is there, note.txt is whited out, and the opaque /etc/conf.d hides old.conf");
        findings.Should().BeEmpty("the host holds no layer, blob or rootfs file of a guest-pulled image");
        await fixture.Sandbox.RemoveContainerAsync("layered", cancellationToken: safety.Token);
    }

    [Fact]
    public async Task Guest_pull_of_a_multi_platform_index_takes_this_platforms_manifest_and_unpacks_its_zstd_layer()
    {
        using var safety = new CancellationTokenSource(Limit);
        var overrides = new ImageProcessOverrides
        {
            Entrypoint = ["/bin/sh", "-c", "if test -e /data/token.txt; then echo layered; else echo app; fi; cat /srv/app/note.txt"],
            Args = [],
        };
        var container = await fixture.Sandbox.CreateContainerFromGuestPullAsync("indexed", fixture.IndexReference, Pull(overrides), cancellationToken: safety.Token);
        string stdout = await RunToEndAsync(container, safety.Token);
        stdout.Should().Be("app\na note in the image\n",
            "linux/amd64 is the zstd app image (the attestation and arm64 entries are the layered one), and its note.txt came out of the zstd layer");
        await fixture.Sandbox.RemoveContainerAsync("indexed", cancellationToken: safety.Token);
    }

    [Fact]
    public async Task A_wrong_password_is_unauthenticated_naming_the_registry_and_the_agent_serves_on()
    {
        using var safety = new CancellationTokenSource(Limit);
        var wrong = new RegistryCredentials(fixture.Registry.Options.User, "not-" + fixture.Registry.Options.Password);

        var refused = await fixture.Invoking(f => f.Sandbox.CreateContainerFromGuestPullAsync("denied", fixture.AppReference, Pull(credentials: wrong), cancellationToken: safety.Token))
            .Should().ThrowAsync<AgentStatusException>();

        output.WriteLine(refused.Which.Message);
        refused.Which.StatusCode.Should().Be(AgentStatusCode.Unauthenticated);
        refused.Which.Message.Should().Contain(fixture.Registry.Host);
        refused.Which.Message.Should().NotContain(wrong.Password, "a secret never shows in an error");
        await fixture.Sandbox.Agent.CheckAsync(safety.Token);
        (await fixture.Sandbox.Agent.GetGuestDetailsAsync(new GuestDetailsRequest(), safety.Token)).AgentDetails.StorageHandlers
            .Should().Contain("image_guest_pull", "this guest image carries the pull helper");
        // The id is free again: nothing of the failed pull is left in the guest.
        var container = await fixture.Sandbox.CreateContainerFromGuestPullAsync("denied", fixture.AppReference, Pull(new ImageProcessOverrides { Args = ["after-refusal"] }), cancellationToken: safety.Token);
        (await RunToEndAsync(container, safety.Token)).Should().Be(BusyboxAppImage.Line("from-image", "/srv/app", "1000:1000", "1000 50", "after-refusal") + "\n");
        await fixture.Sandbox.RemoveContainerAsync("denied", cancellationToken: safety.Token);
    }

    /// <summary>Starts the container, reads its stdout to the end and waits for its exit (0).</summary>
    private async Task<string> RunToEndAsync(Container container, CancellationToken cancellationToken)
    {
        var stdout = new StreamReader(container.InitProcess.Stdout, Encoding.UTF8).ReadToEndAsync(cancellationToken);
        var stderr = new StreamReader(container.InitProcess.Stderr!, Encoding.UTF8).ReadToEndAsync(cancellationToken);
        await container.StartAsync(cancellationToken);
        int exit = await container.InitProcess.WaitAsync(cancellationToken);
        string text = await stdout;
        output.WriteLine($"exit {exit}, stdout: {text}, stderr: {await stderr}");
        exit.Should().Be(0);
        return text;
    }
}
