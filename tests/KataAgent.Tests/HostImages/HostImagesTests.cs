using FluentAssertions;
using KataAgent.Host.Images;
using ImageHost = KataAgent.Host.Images.HostImages;
using KataAgent.Image;
using KataAgent.Image.Pull;
using KataAgent.Image.References;
using KataAgent.Testing.Images;
using Xunit;

namespace KataAgent.Tests.HostImages;

/// <summary>
/// <see cref="ImageHost"/> against a real registry (<see cref="HostImagesRegistryFixture"/>, Basic auth,
/// credentials from a docker config file) as root: pull with per-layer progress, list, find by short id, the pull
/// policies (the registry stopped to prove the store answers alone), remove and prune, load from an OCI layout
/// directory and archive, and a rootfs prepared with the image's process and with the caller's overrides. Each test
/// has a store of its own.
/// </summary>
public sealed class HostImagesTests(HostImagesRegistryFixture fixture) : IClassFixture<HostImagesRegistryFixture>
{
    private ImageHost NewImages(string? dockerConfig = null) => new(new HostImagesOptions
    {
        StoreDirectory = fixture.NewDirectory("store"),
        DockerConfigPath = dockerConfig ?? fixture.DockerConfig,
        PlainHttpRegistries = new HashSet<string> { fixture.Registry.Host },
    });

    [Fact]
    public async Task Pull_stores_the_image_reporting_each_layer_and_lists_it()
    {
        using var images = NewImages();
        var reports = new System.Collections.Concurrent.ConcurrentQueue<PullProgress>();

        var stored = await images.PullAsync(fixture.Reference, progress: new InlineProgress(reports.Enqueue));

        stored.Name.Should().Be(fixture.Reference);
        stored.Config.Config!.Env.Should().Contain("GREETING=from-image");
        stored.Manifest.Layers.Should().HaveCount(1);
        reports.Select(r => r.Phase).Should().Contain([PullPhase.Downloading, PullPhase.Done]);
        reports.Last(r => r.Phase == PullPhase.Done).Bytes.Should().Be(stored.Manifest.Layers[0].Size);
        var list = await images.ListAsync();
        list.Should().ContainSingle().Which.ManifestDigest.Should().Be(stored.ManifestDigest);
        list[0].Size.Should().BeGreaterThan(stored.Manifest.Layers[0].Size);
        (await images.FindAsync(stored.ManifestDigest.Hex[..12]))!.Name.Should().Be(fixture.Reference, "a short id finds the image");

        var again = new List<PullProgress>();
        await images.PullAsync(fixture.Reference, progress: new InlineProgress(again.Add));
        again.Should().OnlyContain(r => r.Phase == PullPhase.AlreadyStored, "a second pull downloads no layer");
    }

    [Fact]
    public async Task A_wrong_password_in_the_docker_config_is_unauthorized_naming_the_registry()
    {
        string config = Path.Combine(fixture.NewDirectory("config"), "config.json");
        HostImagesRegistryFixture.WriteDockerConfig(config, fixture.Registry.Host, fixture.Registry.Options.User, "wrong-password");
        using var images = NewImages(config);

        var pull = () => images.PullAsync(fixture.Reference);

        (await pull.Should().ThrowAsync<ImageException>()).Which.Should().Match<ImageException>(e =>
            e.Kind == ImageErrorKind.Unauthorized && e.Message.Contains(fixture.Registry.Host));
        (await images.ListAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task Pull_policies_missing_and_never_answer_from_the_store_and_always_asks_the_registry()
    {
        using var images = NewImages();
        var never = () => images.EnsureAsync(fixture.Reference, PullPolicy.Never);
        (await never.Should().ThrowAsync<ImageException>()).Which.Should().Match<ImageException>(e =>
            e.Kind == ImageErrorKind.NotFound && e.Message.Contains(fixture.Reference) && e.Message.Contains("never"));
        var pulled = await images.EnsureAsync(fixture.Reference, PullPolicy.Missing);

        await fixture.Registry.StopAsync();
        try
        {
            (await images.EnsureAsync(fixture.Reference, PullPolicy.Missing)).ManifestDigest.Should().Be(pulled.ManifestDigest);
            (await images.EnsureAsync(fixture.Reference, PullPolicy.Never)).ManifestDigest.Should().Be(pulled.ManifestDigest);
            var always = () => images.EnsureAsync(fixture.Reference, PullPolicy.Always);
            (await always.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.Unavailable, "always asks the registry, which is down");
        }
        finally
        {
            await fixture.Registry.RestartAsync();
        }
        (await images.EnsureAsync(fixture.Reference, PullPolicy.Always)).ManifestDigest.Should().Be(pulled.ManifestDigest);
    }

    [Fact]
    public async Task Remove_forgets_the_image_and_prune_then_frees_its_blobs()
    {
        using var images = NewImages();
        var stored = await images.PullAsync(fixture.Reference);

        (await images.RemoveAsync(fixture.Reference)).Should().BeTrue();
        (await images.RemoveAsync(fixture.Reference)).Should().BeFalse("it is gone already");
        (await images.ListAsync()).Should().BeEmpty();
        images.Store.Contains(Digest.Parse(stored.Manifest.Layers[0].Digest)).Should().BeTrue("blobs stay until prune");
        long freed = await images.PruneAsync();

        freed.Should().BeGreaterThanOrEqualTo(stored.Manifest.Layers[0].Size);
        images.Store.Contains(Digest.Parse(stored.Manifest.Layers[0].Digest)).Should().BeFalse();
        (await images.PruneAsync()).Should().Be(0, "nothing is left to prune");
    }

    [Fact]
    public async Task Load_takes_an_oci_layout_directory_under_a_given_name_and_an_oci_archive()
    {
        using var images = NewImages();

        var fromDirectory = await images.LoadAsync(fixture.Layout, name: "example.com/loaded/app:v1");
        var fromArchive = await images.LoadAsync(fixture.Archive);

        fromDirectory.Should().ContainSingle().Which.Name.Should().Be("example.com/loaded/app:v1");
        fromArchive.Should().ContainSingle().Which.ManifestDigest.Should().Be(fromDirectory[0].ManifestDigest, "the same image, copied by skopeo");
        (await images.ListAsync()).Select(i => i.Name).Should().Contain("example.com/loaded/app:v1");
        var prepared = await images.PrepareRootfsAsync("example.com/loaded/app:v1", Path.Combine(fixture.NewDirectory("rootfs"), "rootfs"));
        File.Exists(Path.Combine(prepared.Directory, "srv", "app", "note.txt")).Should().BeTrue();
    }

    [Fact]
    public async Task Prepare_unpacks_the_rootfs_and_gives_the_image_s_process_with_its_user_resolved_in_the_image()
    {
        using var images = NewImages();
        await images.PullAsync(fixture.Reference);
        string directory = Path.Combine(fixture.NewDirectory("rootfs"), "rootfs");
        var reports = new List<PullProgress>();

        var prepared = await images.PrepareRootfsAsync(fixture.Reference, directory, progress: new InlineProgress(reports.Add));

        prepared.Directory.Should().Be(directory);
        File.ReadAllText(Path.Combine(directory, "srv", "app", "note.txt")).Should().Be("a note in the image\n");
        File.Exists(Path.Combine(directory, "bin", "busybox")).Should().BeTrue();
        prepared.Process.Args.Should().Equal("/bin/sh", "-c", BusyboxAppImage.Script, "app", "default-arg");
        prepared.Process.Env.Should().Equal("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=from-image");
        prepared.Process.Cwd.Should().Be("/srv/app");
        (prepared.Process.Uid, prepared.Process.Gid).Should().Be((1000u, 1000u));
        prepared.Process.AdditionalGids.Should().Equal(50u);
        reports.Select(r => r.Phase).Should().Contain([PullPhase.Unpacking, PullPhase.Unpacked]);
    }

    [Fact]
    public async Task Overrides_replace_entrypoint_args_env_user_and_working_directory_as_docker_does()
    {
        using var images = NewImages();
        await images.PullAsync(fixture.Reference);

        var entrypoint = await images.PrepareRootfsAsync(fixture.Reference, Path.Combine(fixture.NewDirectory("rootfs"), "r"), new ImageProcessOverrides
        {
            Entrypoint = ["/bin/echo"],
            Env = ["GREETING=overridden", "EXTRA=1"],
            User = "nobody",
            WorkingDirectory = "/tmp",
        });
        var args = await images.PrepareRootfsAsync(fixture.Reference, Path.Combine(fixture.NewDirectory("rootfs"), "r"), new ImageProcessOverrides { Args = ["one", "two"], User = "0:50" });

        entrypoint.Process.Args.Should().Equal(["/bin/echo"], "an entrypoint of the caller's drops the image's Cmd");
        entrypoint.Process.Env.Should().Equal("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=overridden", "EXTRA=1");
        (entrypoint.Process.Uid, entrypoint.Process.Gid, entrypoint.Process.Cwd).Should().Be((65534u, 65534u, "/tmp"));
        args.Process.Args.Should().Equal("/bin/sh", "-c", BusyboxAppImage.Script, "app", "one", "two");
        (args.Process.Uid, args.Process.Gid).Should().Be((0u, 50u));
    }

    [Fact]
    public async Task An_unknown_user_or_image_fails_naming_it_and_leaves_no_directory()
    {
        using var images = NewImages();
        await images.PullAsync(fixture.Reference);
        string directory = Path.Combine(fixture.NewDirectory("rootfs"), "rootfs");

        var ghost = () => images.PrepareRootfsAsync(fixture.Reference, directory, new ImageProcessOverrides { User = "ghost" });
        var missing = () => images.PrepareRootfsAsync("example.com/not/stored:v1", directory);
        var relative = () => images.PrepareRootfsAsync(fixture.Reference, directory, new ImageProcessOverrides { WorkingDirectory = "srv" });

        (await ghost.Should().ThrowAsync<ImageException>()).Which.Should().Match<ImageException>(e =>
            e.Kind == ImageErrorKind.InvalidInput && e.Message.Contains("ghost") && e.Message.Contains(fixture.Reference));
        Directory.Exists(directory).Should().BeFalse("a failed prepare leaves nothing half made");
        (await missing.Should().ThrowAsync<ImageException>()).Which.Should().Match<ImageException>(e =>
            e.Kind == ImageErrorKind.NotFound && e.Message.Contains("example.com/not/stored:v1"));
        (await relative.Should().ThrowAsync<ImageException>()).Which.Kind.Should().Be(ImageErrorKind.InvalidInput);
        Directory.Exists(directory).Should().BeFalse();
    }

    private sealed class InlineProgress(Action<PullProgress> report) : IProgress<PullProgress>
    {
        public void Report(PullProgress value) => report(value);
    }
}
