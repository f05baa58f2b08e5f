using System.Diagnostics;
using FluentAssertions;
using KataAgent.Rootfs.Kernel;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Rootfs.Tests.Kernel;

public sealed class KernelPackageTests(ITestOutputHelper output)
{
    [Fact]
    public void Apt_cache_depends_output_names_the_versioned_package()
    {
        const string text = """
            linux-image-cloud-amd64
              Depends: linux-image-6.1.0-56-cloud-amd64
            """;
        const string withAlternatives = """
            linux-image-cloud-amd64
             |Depends: <linux-image-virtual>
              Depends: linux-image-6.1.0-57-cloud-amd64
              Recommends: firmware-linux
            """;

        KernelPackage.ParseAptCacheDepends(text).Should().Be("linux-image-6.1.0-56-cloud-amd64");
        KernelPackage.ParseAptCacheDepends(withAlternatives).Should().Be("linux-image-6.1.0-57-cloud-amd64");
        KernelPackage.ParseAptCacheDepends("linux-image-cloud-amd64\n").Should().BeNull();
    }

    [Fact]
    public void The_default_cache_is_under_the_users_cache_directory()
    {
        KernelPackage.DefaultCacheDirectory.Should().EndWith("/kataagent/kernel");
    }

    [Fact]
    public async Task A_cached_kernel_is_used_without_apt_when_apt_cannot_resolve_the_package()
    {
        using var temp = new TempDirectory();
        string cache = temp.CreateDirectory("cache");
        const string meta = "linux-image-kataagent-test-nonexistent";
        string root = Path.Join(cache, "linux-image-6.1.0-99-test", "root");
        Directory.CreateDirectory(Path.Join(root, "boot"));
        Directory.CreateDirectory(Path.Join(root, "lib/modules/6.1.0-99-test/kernel"));
        await File.WriteAllTextAsync(Path.Join(root, "boot/vmlinuz-6.1.0-99-test"), "not a kernel");
        await File.WriteAllTextAsync(Path.Join(root, "lib/modules/6.1.0-99-test/modules.dep"), "");
        await File.WriteAllTextAsync(Path.Join(cache, "linux-image-6.1.0-99-test", ".complete"), "x.deb\n");
        await File.WriteAllTextAsync(Path.Join(cache, meta + ".current"), "linux-image-6.1.0-99-test\n");

        var package = await KernelPackage.ObtainDebianAsync(cache, meta);

        package.Downloaded.Should().BeFalse();
        package.KernelVersion.Should().Be("6.1.0-99-test");
        package.VmlinuzPath.Should().Be(Path.Join(root, "boot/vmlinuz-6.1.0-99-test"));
    }

    [Fact]
    public async Task An_unknown_package_with_an_empty_cache_says_what_to_do()
    {
        using var temp = new TempDirectory();

        await FluentActions.Awaiting(() => KernelPackage.ObtainDebianAsync(temp.Path, "linux-image-kataagent-test-nonexistent"))
            .Should().ThrowAsync<KernelPackageException>().WithMessage("*apt-get update*");
    }

    [Fact]
    public void A_user_given_kernel_must_exist_and_its_module_tree_must_look_like_one()
    {
        using var temp = new TempDirectory();
        string vmlinuz = temp.File("vmlinuz");
        File.WriteAllText(vmlinuz, "x");

        FluentActions.Invoking(() => KernelPackage.FromPaths(temp.File("nope"), temp.Path)).Should().Throw<KernelPackageException>().WithMessage("*does not exist*");
        FluentActions.Invoking(() => KernelPackage.FromPaths(vmlinuz, temp.CreateDirectory("empty"))).Should().Throw<KernelPackageException>().WithMessage("*not a module tree*");
    }

    [Fact]
    public async Task A_fresh_cache_downloads_and_unpacks_the_cloud_kernel_with_apt_and_dpkg()
    {
        // The real fetch path, into an empty cache (the shared fixture's cache is usually warm): ~27 MB.
        using var temp = new TempDirectory();
        // A kernel the metapackage pointed at before: replaced by the new download, so it is removed.
        string previous = temp.CreateDirectory("linux-image-6.1.0-1-cloud-amd64/root");
        await File.WriteAllTextAsync(temp.File("linux-image-6.1.0-1-cloud-amd64/.complete"), "old.deb\n");
        await File.WriteAllTextAsync(temp.File(KernelPackage.DebianCloudMetaPackage + ".current"), "linux-image-6.1.0-1-cloud-amd64\n");
        var started = Stopwatch.StartNew();

        var package = await KernelPackage.ObtainDebianAsync(temp.Path);
        var fetched = started.Elapsed;
        started.Restart();
        var again = await KernelPackage.ObtainDebianAsync(temp.Path);

        output.WriteLine($"download + unpack + modules.dep: {fetched.TotalSeconds:0.0} s; cache hit: {started.Elapsed.TotalMilliseconds:0} ms");
        package.Downloaded.Should().BeTrue();
        again.Downloaded.Should().BeFalse();
        File.Exists(package.VmlinuzPath).Should().BeTrue();
        File.Exists(Path.Join(package.ModulesDirectory, "modules.dep")).Should().BeTrue();
        Directory.EnumerateFiles(Path.Join(temp.Path, package.PackageName!), "*.deb", SearchOption.AllDirectories).Should().BeEmpty("only the unpacked tree is kept");
        (await package.LoadModulesAsync()).Resolve(KernelModules.DefaultSet).Should().HaveCount(18);
        Directory.Exists(previous).Should().BeFalse("the kernel it replaces is pruned from the cache");
        (await File.ReadAllTextAsync(temp.File(KernelPackage.DebianCloudMetaPackage + ".current"))).Trim().Should().Be(package.PackageName);
    }
}
