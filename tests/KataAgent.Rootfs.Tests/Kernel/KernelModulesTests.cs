using System.IO.Compression;
using FluentAssertions;
using KataAgent.Rootfs.Kernel;
using KataAgent.Rootfs.Tests.Infrastructure;
using KataAgent.Testing.Kernel;
using Xunit;

namespace KataAgent.Rootfs.Tests.Kernel;

/// <summary>Closure and order from fake module trees (no real kernel needed).</summary>
public sealed class KernelModulesTests : IDisposable
{
    private const string Version = "6.1.0-99-test-amd64";

    // Written the way depmod writes it: each line lists the whole closure, last to load first.
    private const string ModulesDep = """
        kernel/drivers/virtio/virtio_ring.ko:
        kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/virtio/virtio_pci_modern_dev.ko:
        kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/net/core/failover.ko:
        kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
        kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/fs/fuse/fuse.ko:
        kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/char/hw-random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/fs/broken.ko: kernel/fs/not_there.ko
        """;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_closure_comes_in_load_order_each_module_once()
    {
        var tree = await KernelModules.LoadAsync(WriteTree(ModulesDep));

        var modules = tree.Resolve(["virtio_net", "virtio_pci", "virtiofs"]);

        modules.Select(m => m.Name).Should().Equal(
            "virtio_ring", "virtio", "failover", "net_failover", "virtio_net", "virtio_pci_modern_dev", "virtio_pci", "fuse", "virtiofs");
        modules.Single(m => m.Name == "virtio_pci").RelativePath.Should().Be("kernel/drivers/virtio/virtio_pci.ko");
        tree.KernelVersion.Should().Be(Version);
        ModuleOrder.ShouldBeInDependencyOrder(modules);
    }

    [Fact]
    public async Task Only_direct_dependencies_listed_still_give_a_complete_closure()
    {
        var tree = await KernelModules.LoadAsync(WriteTree("""
            a.ko: b.ko
            b.ko: c.ko
            c.ko:
            d.ko: c.ko a.ko
            """));

        tree.Resolve(["d"]).Select(m => m.Name).Should().Equal("c", "b", "a", "d");
    }

    [Fact]
    public async Task Dashes_and_underscores_are_the_same_name()
    {
        var tree = await KernelModules.LoadAsync(WriteTree(ModulesDep));

        tree.Resolve(["virtio-rng"]).Select(m => m.Name).Should().Equal("virtio_ring", "virtio", "virtio_rng");
        tree.Contains("virtio_rng").Should().BeTrue();
    }

    [Fact]
    public async Task Built_in_modules_are_satisfied_without_a_file()
    {
        string directory = WriteTree(ModulesDep);
        await File.WriteAllTextAsync(Path.Join(directory, "modules.builtin"), "kernel/fs/overlayfs/overlay.ko\nkernel/drivers/block/virtio_blk.ko\n");
        var tree = await KernelModules.LoadAsync(directory);

        tree.Resolve(["overlay", "virtio_blk", "fuse"]).Select(m => m.Name).Should().Equal("fuse");
        tree.IsBuiltIn("overlay").Should().BeTrue();
    }

    [Fact]
    public async Task A_missing_module_names_itself_and_the_kernel_version()
    {
        var tree = await KernelModules.LoadAsync(WriteTree(ModulesDep));

        var resolve = () => tree.Resolve(["virtio_pci", "9pnet_virtio"]);

        resolve.Should().Throw<KernelModuleNotFoundException>()
            .Where(e => e.ModuleName == "9pnet_virtio" && e.KernelVersion == Version)
            .WithMessage($"kernel module '9pnet_virtio' is not in the module tree of kernel {Version}*");
    }

    [Fact]
    public async Task A_missing_dependency_names_who_needs_it()
    {
        var tree = await KernelModules.LoadAsync(WriteTree(ModulesDep));

        tree.Invoking(t => t.Resolve(["broken"])).Should().Throw<KernelModuleNotFoundException>()
            .WithMessage("kernel module 'not_there' (needed by 'broken')*");
    }

    [Fact]
    public async Task A_dependency_cycle_is_an_error_not_a_hang()
    {
        var tree = await KernelModules.LoadAsync(WriteTree("a.ko: b.ko\nb.ko: a.ko\n"));

        tree.Invoking(t => t.Resolve(["a"])).Should().Throw<KernelModuleException>().WithMessage("*cycle*a -> b -> a*");
    }

    [Fact]
    public async Task Absolute_paths_of_old_depmod_are_made_relative()
    {
        var tree = await KernelModules.LoadAsync(WriteTree($"/lib/modules/{Version}/kernel/a.ko: /lib/modules/{Version}/kernel/b.ko\n/lib/modules/{Version}/kernel/b.ko:\n"));

        tree.Resolve(["a"]).Select(m => m.RelativePath).Should().Equal("kernel/b.ko", "kernel/a.ko");
    }

    [Fact]
    public async Task Without_modules_dep_the_dependencies_come_from_each_modules_modinfo()
    {
        string directory = _temp.CreateDirectory($"gen/lib/modules/{Version}");
        WriteModule(directory, "kernel/drivers/virtio/virtio_ring.ko");
        WriteModule(directory, "kernel/drivers/virtio/virtio.ko", "virtio_ring");
        WriteModule(directory, "kernel/drivers/virtio/virtio_pci.ko", "virtio_ring", "virtio_pci_modern_dev", "virtio");
        WriteModule(directory, "kernel/drivers/virtio/virtio_pci_modern_dev.ko");
        WriteModule(directory, "kernel/fs/fuse/fuse.ko");
        WriteModule(directory, "kernel/fs/fuse/virtiofs.ko.gz", "fuse", "virtio", "virtio_ring"); // compressed

        string dep = await ModulesDepGenerator.GenerateAsync(directory);
        var tree = await KernelModules.LoadAsync(directory);
        var modules = tree.Resolve(["virtio_pci", "virtiofs"]);

        dep.Should().Contain("kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko\n");
        dep.Should().Contain("kernel/fs/fuse/virtiofs.ko.gz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/fs/fuse/fuse.ko\n");
        modules.Select(m => m.Name).Should().Equal("virtio_ring", "virtio_pci_modern_dev", "virtio", "virtio_pci", "fuse", "virtiofs");
        ModuleOrder.ShouldBeInDependencyOrder(modules);
        var virtiofs = modules.Single(m => m.Name == "virtiofs");
        virtiofs.ImageRelativePath.Should().Be("kernel/fs/fuse/virtiofs.ko");
        (await KernelModuleFile.ReadAllBytesAsync(virtiofs.HostPath)).Should().Equal(FakeElf.KernelModule("virtiofs", "fuse", "virtio", "virtio_ring"));
    }

    [Fact]
    public async Task The_image_modules_dep_lists_each_modules_closure_last_loaded_first()
    {
        var tree = await KernelModules.LoadAsync(WriteTree(ModulesDep));
        var modules = tree.Resolve(["virtio_net"]);

        KernelModules.FormatModulesDep(modules).Should().Be("""
            kernel/drivers/virtio/virtio_ring.ko:
            kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
            kernel/net/core/failover.ko:
            kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
            kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko

            """);
    }

    [Fact]
    public async Task A_compressed_module_without_its_decompressor_fails_clearly()
    {
        string path = _temp.File("m.ko.bz2");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);

        await FluentActions.Awaiting(() => KernelModuleFile.ReadAllBytesAsync(path)).Should().ThrowAsync<KernelModuleException>().WithMessage("*not a kernel module file*");
    }

    private string WriteTree(string modulesDep)
    {
        string directory = _temp.CreateDirectory($"t{Guid.NewGuid():N}/lib/modules/{Version}");
        File.WriteAllText(Path.Join(directory, "modules.dep"), modulesDep.Replace("\r", "") + "\n");
        return directory;
    }

    private static void WriteModule(string directory, string relativePath, params string[] depends)
    {
        string path = Path.Join(directory, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        byte[] elf = FakeElf.KernelModule(KernelModuleFile.NameOf(relativePath), depends);
        if (relativePath.EndsWith(".gz", StringComparison.Ordinal))
        {
            using var file = File.Create(path);
            using var gzip = new GZipStream(file, CompressionLevel.Optimal);
            gzip.Write(elf);
        }
        else
        {
            File.WriteAllBytes(path, elf);
        }
    }
}
