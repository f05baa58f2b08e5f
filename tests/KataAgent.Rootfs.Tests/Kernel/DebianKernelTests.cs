using System.Diagnostics;
using FluentAssertions;
using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Kernel;
using KataAgent.Rootfs.Tests.Infrastructure;
using KataAgent.Testing.Kernel;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Rootfs.Tests.Kernel;

/// <summary>Debian's real cloud kernel (fetched into ~/.cache/kataagent/kernel by <see cref="KernelPackage"/>).</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class DebianKernelTests(DebianKernelFixture kernel, ITestOutputHelper output)
{
    private static readonly string[] ExpectedClosure =
    [
        "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio", "virtio_pci", "virtio_console", "virtio_blk",
        "failover", "net_failover", "virtio_net", "virtio_rng", "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport",
        "vsock_loopback", "overlay", "fuse", "virtiofs",
    ];

    [Fact]
    public void The_package_gives_a_kernel_image_and_its_module_tree()
    {
        var package = kernel.Package;
        output.WriteLine($"{package.PackageName} {package.KernelVersion} ({(package.Downloaded ? "downloaded" : "cached")} in {kernel.ObtainTime.TotalSeconds:0.0} s)");

        package.PackageName.Should().StartWith("linux-image-").And.EndWith("-cloud-amd64");
        package.KernelVersion.Should().Be(package.PackageName!["linux-image-".Length..]);
        new FileInfo(package.VmlinuzPath).Length.Should().BeGreaterThan(4_000_000);
        File.ReadAllBytes(package.VmlinuzPath).AsSpan(0x202, 4).ToArray().Should().Equal("HdrS"u8.ToArray()); // x86 boot protocol header
        Directory.Exists(Path.Join(package.ModulesDirectory, "kernel")).Should().BeTrue();
        File.Exists(Path.Join(package.ModulesDirectory, "modules.dep")).Should().BeTrue("the .deb has none: KernelPackage generates it");
    }

    [Fact]
    public async Task A_second_request_is_a_cache_hit_with_no_download()
    {
        var started = Stopwatch.StartNew();
        var again = await KernelPackage.ObtainDebianAsync();

        output.WriteLine($"cache hit in {started.Elapsed.TotalMilliseconds:0} ms");
        again.Downloaded.Should().BeFalse();
        again.VmlinuzPath.Should().Be(kernel.Package.VmlinuzPath);
        again.ModulesDirectory.Should().Be(kernel.Package.ModulesDirectory);
    }

    [Fact]
    public void The_default_set_closes_over_18_plain_ko_modules_in_load_order()
    {
        var modules = kernel.Modules.Resolve(KernelModules.DefaultSet);

        output.WriteLine(string.Join("\n", modules.Select(m => $"{m.RelativePath} {new FileInfo(m.HostPath).Length}")));
        modules.Select(m => m.Name).Should().BeEquivalentTo(ExpectedClosure);
        modules.Should().OnlyContain(m => m.RelativePath.EndsWith(".ko", StringComparison.Ordinal), "Debian 6.1 cloud modules are uncompressed");
        ModuleOrder.ShouldBeInDependencyOrder(modules);
        modules.Sum(m => new FileInfo(m.HostPath).Length).Should().BeInRange(1_000_000, 3_000_000);
    }

    [Fact]
    public void The_load_order_agrees_with_each_modules_own_modinfo()
    {
        // Independent of modules.dep: read depends= from every module file and check the order against it.
        var modules = kernel.Modules.Resolve(KernelModules.DefaultSet);
        var position = modules.Select((m, i) => (m.Name, i)).ToDictionary(p => p.Name, p => p.i);

        foreach (var module in modules)
        {
            string depends = ElfFile.Read(module.HostPath).ReadModInfo().Single(kv => kv.Key == "depends").Value;
            foreach (string dependency in depends.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                position.Should().ContainKey(dependency);
                position[dependency].Should().BeLessThan(position[module.Name], $"{module.Name} depends on {dependency}");
            }
        }
    }

    [Fact]
    public void Modules_the_cloud_kernel_lacks_are_reported_with_the_kernel_version()
    {
        var resolve = () => kernel.Modules.Resolve(["virtio_pci", "9pnet_virtio"]);

        resolve.Should().Throw<KernelModuleNotFoundException>()
            .Where(e => e.ModuleName == "9pnet_virtio" && e.KernelVersion == kernel.Package.KernelVersion)
            .WithMessage($"*'9pnet_virtio'*{kernel.Package.KernelVersion}*");
    }

    [Fact]
    public void Built_in_pieces_are_known_as_built_in()
    {
        kernel.Modules.IsBuiltIn("binfmt_script").Should().BeTrue();
        kernel.Modules.Resolve(["binfmt_script"]).Should().BeEmpty();
    }

    [Fact]
    public async Task The_generated_modules_dep_matches_a_fresh_scan()
    {
        string generated = await ModulesDepGenerator.GenerateAsync(kernel.Package.ModulesDirectory);

        generated.Should().Be(await File.ReadAllTextAsync(Path.Join(kernel.Package.ModulesDirectory, "modules.dep")));
        generated.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.Should().BeGreaterThan(1000);
    }

    [Fact]
    public void A_user_given_kernel_and_module_tree_are_accepted_as_the_tree_or_its_root()
    {
        var package = kernel.Package;
        string root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(package.ModulesDirectory)!)!)!;

        var fromTree = KernelPackage.FromPaths(package.VmlinuzPath, package.ModulesDirectory);
        var fromRoot = KernelPackage.FromPaths(package.VmlinuzPath, root);

        fromTree.KernelVersion.Should().Be(package.KernelVersion);
        fromRoot.ModulesDirectory.Should().Be(package.ModulesDirectory);
        fromRoot.PackageName.Should().BeNull();
        fromRoot.Downloaded.Should().BeFalse();
    }
}
