using FluentAssertions;
using KataAgent.Rootfs.Compression;
using KataAgent.Rootfs.Elf;
using KataAgent.Rootfs.Image;
using KataAgent.Rootfs.Kernel;
using KataAgent.Rootfs.Tests.Infrastructure;
using KataAgent.Testing.Kernel;
using Xunit;
using Xunit.Abstractions;

namespace KataAgent.Rootfs.Tests.Image;

/// <summary>Full initrds from out/kata-agent and Debian's cloud kernel, unpacked again with GNU cpio.</summary>
[Collection(DebianKernelCollection.Name)]
public sealed class InitrdBuilderTests(DebianKernelFixture kernel, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_image_holds_the_agent_as_init_its_libraries_the_modules_and_the_skeleton()
    {
        string agent = RepoPaths.AgentBinary;
        string image = _temp.File("initrd.img");

        var result = await new InitrdBuilder(new InitrdOptions { AgentPath = agent, Kernel = kernel.Modules, BusyboxPath = RepoPaths.Busybox }).BuildAsync(image);

        output.WriteLine(result.Describe());
        string root = _temp.CreateDirectory("x");
        string listing = await HostTools.ExtractCpioAsync(image, root);
        output.WriteLine(listing);

        // The agent is /init, byte for byte, executable.
        (await File.ReadAllBytesAsync(Path.Join(root, "init"))).Should().Equal(await File.ReadAllBytesAsync(agent));
        File.GetUnixFileMode(Path.Join(root, "init")).Should().HaveFlag(UnixFileMode.UserExecute);
        // The interpreter and the libraries, where ld.so looks, as regular files.
        foreach (string library in (string[])["/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6"])
        {
            string extracted = Path.Join(root, library);
            new FileInfo(extracted).LinkTarget.Should().BeNull();
            (await File.ReadAllBytesAsync(extracted)).Should().Equal(await File.ReadAllBytesAsync(library), library);
        }
        // The agent's, and mke2fs' (e2fsprogs' libraries and util-linux's libblkid and libuuid).
        result.Libraries.Select(l => l.Path).Should().BeEquivalentTo(
            "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6",
            "/lib/x86_64-linux-gnu/libext2fs.so.2", "/lib/x86_64-linux-gnu/libcom_err.so.2", "/lib/x86_64-linux-gnu/libblkid.so.1",
            "/lib/x86_64-linux-gnu/libuuid.so.1", "/lib/x86_64-linux-gnu/libe2p.so.2");
        // Debian's mke2fs, not busybox's ext2-only applet, and it runs with what the image holds.
        new FileInfo(Path.Join(root, "sbin/mke2fs")).LinkTarget.Should().BeNull();
        (await File.ReadAllBytesAsync(Path.Join(root, "sbin/mke2fs"))).Should().Equal(await File.ReadAllBytesAsync(InitrdOptions.DefaultMke2fs));
        var mke2fs = await HostTools.RunAsync("chroot", [root, "/sbin/mke2fs", "-V"]);
        mke2fs.StandardError.Should().Contain("Using EXT2FS Library", "mke2fs -V prints its version and its library's on stderr");
        // The modules, and the list PID 1 loads them from, in order.
        string kver = kernel.Package.KernelVersion;
        string[] list = await File.ReadAllLinesAsync(Path.Join(root, $"lib/modules/{kver}/kataagent.modules"));
        list.Should().HaveCount(18);
        list.Should().Equal(result.Modules.Select(m => $"/lib/modules/{kver}/{m.RelativePath}"));
        foreach (var module in result.Modules)
        {
            (await File.ReadAllBytesAsync(Path.Join(root, $"lib/modules/{kver}", module.RelativePath))).Should().Equal(await File.ReadAllBytesAsync(module.HostPath));
        }
        File.ReadAllText(Path.Join(root, $"lib/modules/{kver}/modules.dep")).Should().Contain("kernel/drivers/virtio/virtio_pci.ko: ");
        // The on-demand modules (pod volumes: loop, dm-crypt and XTS) are packed and in modules.dep, not in the boot list.
        result.OnDemandModules.Select(m => m.Name).Should().BeEquivalentTo("loop", "dm_mod", "dm_crypt", "ecb", "xts");
        foreach (var module in result.OnDemandModules)
        {
            (await File.ReadAllBytesAsync(Path.Join(root, $"lib/modules/{kver}", module.RelativePath))).Should().Equal(await File.ReadAllBytesAsync(module.HostPath));
            list.Should().NotContain($"/lib/modules/{kver}/{module.RelativePath}");
        }
        File.ReadAllText(Path.Join(root, $"lib/modules/{kver}/modules.dep")).Should().Contain("kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko\n");
        // Busybox and its shell link.
        new FileInfo(Path.Join(root, "bin/sh")).LinkTarget.Should().Be("busybox");
        new FileInfo(Path.Join(root, "bin/busybox")).Length.Should().Be(new FileInfo(RepoPaths.Busybox).Length);
        // A link per applet, so programs run by path work too (env, xargs, scripts), not only in busybox's shell.
        new FileInfo(Path.Join(root, "bin/ls")).LinkTarget.Should().Be("/bin/busybox");
        new FileInfo(Path.Join(root, "usr/bin/env")).LinkTarget.Should().Be("/bin/busybox");
        var applet = await HostTools.RunAsync("chroot", [root, "/usr/bin/env", "-i", "ls", "/bin/busybox"]);
        applet.StandardOutput.Trim().Should().Be("/bin/busybox", applet.StandardError);
        new FileInfo(Path.Join(root, "init")).LinkTarget.Should().BeNull("the agent stays /init");
        // The skeleton and the device nodes.
        foreach (string directory in ImageLayout.Directories)
        {
            Directory.Exists(Path.Join(root, directory)).Should().BeTrue(directory);
        }
        File.GetUnixFileMode(Path.Join(root, "tmp")).Should().Be((UnixFileMode)0x3FF);
        var stat = await HostTools.RunAsync("stat", ["-c", "%F %t:%T", Path.Join(root, "dev/console"), Path.Join(root, "dev/null")]);
        stat.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal("character special file 5:1", "character special file 1:3");
        // The build information.
        string info = await File.ReadAllTextAsync(Path.Join(root, "etc/kataagent-image"));
        info.Should().Contain("agent=/init\n").And.Contain($"kernel_version={kver}\n").And.Contain($"modules_file=/lib/modules/{kver}/kataagent.modules\n")
            .And.Contain("busybox=/bin/busybox\n").And.Contain("modules=virtio_ring ").And.Contain("mke2fs=/sbin/mke2fs\n")
            .And.Contain("modules_on_demand=");
        // Sizes.
        result.CompressedSize.Should().Be(new FileInfo(image).Length);
        result.Compression.Should().Be(InitrdCompression.None, "the kernel unpacks a plain cpio fastest");
        result.CompressedSize.Should().Be(result.UncompressedSize);
        (await File.ReadAllBytesAsync(image)).AsSpan(0, 6).ToArray().Should().Equal("070701"u8.ToArray());
        result.UncompressedSize.Should().BeGreaterThan(result.AgentSize + result.LibrariesSize + result.ModulesSize + result.BusyboxSize);
        result.KernelVersion.Should().Be(kver);
    }

    [Fact]
    public async Task Gzip_on_request_is_smaller_and_unpacks_to_the_same_archive()
    {
        InitrdOptions Options(InitrdCompression compression) => new() { AgentPath = RepoPaths.AgentBinary, Kernel = kernel.Modules, BusyboxPath = RepoPaths.Busybox, ModificationTime = 1_700_000_000, Compression = compression };
        string plainImage = _temp.File("plain.img");
        string gzipImage = _temp.File("gzip.img");

        var plainResult = await new InitrdBuilder(Options(InitrdCompression.None)).BuildAsync(plainImage);
        var gzipResult = await new InitrdBuilder(Options(InitrdCompression.Gzip)).BuildAsync(gzipImage);

        gzipResult.Compression.Should().Be(InitrdCompression.Gzip);
        gzipResult.CompressedSize.Should().Be(new FileInfo(gzipImage).Length).And.BeLessThan(gzipResult.UncompressedSize);
        gzipResult.UncompressedSize.Should().Be(plainResult.UncompressedSize);
        await using var inflate = new System.IO.Compression.GZipStream(File.OpenRead(gzipImage), System.IO.Compression.CompressionMode.Decompress);
        using var unpacked = new MemoryStream();
        await inflate.CopyToAsync(unpacked);
        // The same archive, but for the build information's compression line (same length: "none", "gzip").
        byte[] expected = await File.ReadAllBytesAsync(plainImage);
        byte[] line = "\ncompression=none\n"u8.ToArray();
        int at = expected.AsSpan().IndexOf(line);
        at.Should().BeGreaterThan(0);
        expected.AsSpan(at + 1).IndexOf(line).Should().Be(-1, "one build information file");
        "\ncompression=gzip\n"u8.CopyTo(expected.AsSpan(at));
        unpacked.ToArray().Should().Equal(expected);
    }

    [Fact]
    public async Task The_same_inputs_give_the_same_bytes()
    {
        var options = new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Kernel = kernel.Modules, ModificationTime = 1_700_000_000 };

        await new InitrdBuilder(options).BuildAsync(_temp.File("a.img"));
        await new InitrdBuilder(options).BuildAsync(_temp.File("b.img"));

        (await File.ReadAllBytesAsync(_temp.File("a.img"))).Should().Equal(await File.ReadAllBytesAsync(_temp.File("b.img")));
    }

    [Fact]
    public async Task Without_a_kernel_there_are_no_modules_and_without_compression_it_is_a_plain_cpio()
    {
        string image = _temp.File("plain.cpio");

        var result = await new InitrdBuilder(new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Compression = InitrdCompression.None }).BuildAsync(image);

        (await File.ReadAllBytesAsync(image)).AsSpan(0, 6).ToArray().Should().Equal("070701"u8.ToArray());
        result.CompressedSize.Should().Be(result.UncompressedSize);
        result.Modules.Should().BeEmpty();
        string root = _temp.CreateDirectory("plain");
        await HostTools.ExtractCpioAsync(image, root);
        Directory.Exists(Path.Join(root, "lib/modules")).Should().BeFalse();
        File.ReadAllText(Path.Join(root, "etc/kataagent-image")).Should().NotContain("kernel_version");
    }

    [Fact]
    public async Task A_module_the_kernel_lacks_fails_the_build_and_leaves_no_file()
    {
        string image = _temp.File("never.img");
        var options = new InitrdOptions { AgentPath = RepoPaths.AgentBinary, Kernel = kernel.Modules, ModuleNames = ["virtio_pci", "9p"] };

        await FluentActions.Awaiting(() => new InitrdBuilder(options).BuildAsync(image))
            .Should().ThrowAsync<KernelModuleNotFoundException>().WithMessage($"*'9p'*{kernel.Package.KernelVersion}*");
        File.Exists(image).Should().BeFalse();
    }

    [Fact]
    public async Task The_agent_can_go_elsewhere_and_the_caller_can_add_files()
    {
        var tree = await new InitrdBuilder(new InitrdOptions
        {
            AgentPath = RepoPaths.AgentBinary,
            AgentImagePath = "/usr/bin/kata-agent",
            ModuleNames = [],
            Customize = t => t.AddTextFile("/init", "#!/bin/sh\nexec /usr/bin/kata-agent\n", 0x1ED),
        }).AssembleAsync();

        tree.Find("/usr/bin/kata-agent")!.HostPath.Should().Be(Path.GetFullPath(RepoPaths.AgentBinary));
        tree.Find("/init")!.Content.Should().NotBeNull();
    }

    [Fact]
    public async Task The_spawn_chain_helper_goes_beside_the_agent_with_its_libraries()
    {
        var options = new InitrdOptions
        {
            AgentPath = RepoPaths.AgentBinary,
            InitHelperPath = RepoPaths.InitHelperBinary,
            AgentImagePath = "/usr/bin/kata-agent",
            ModuleNames = [],
        };
        var tree = await new InitrdBuilder(options).AssembleAsync();

        options.InitHelperImagePath.Should().Be("/usr/bin/kata-agent-init");
        tree.Find("/usr/bin/kata-agent-init")!.HostPath.Should().Be(Path.GetFullPath(RepoPaths.InitHelperBinary));
        foreach (var library in new ElfDependencies().Resolve(RepoPaths.InitHelperBinary, "/usr/bin/kata-agent-init"))
        {
            tree.Find(library.Path).Should().NotBeNull("the helper needs {0}", library.Path);
        }
        var plain = await new InitrdBuilder(new InitrdOptions { AgentPath = RepoPaths.AgentBinary, InitHelperPath = RepoPaths.InitHelperBinary, ModuleNames = [] }).AssembleAsync();
        plain.Find("/kata-agent-init").Should().NotBeNull("the agent is /init, so its helper is /kata-agent-init");
    }

    [Fact]
    public async Task A_missing_spawn_chain_helper_is_a_clear_error()
    {
        var options = new InitrdOptions { AgentPath = RepoPaths.AgentBinary, InitHelperPath = _temp.File("kata-agent-init") };

        await FluentActions.Awaiting(() => new InitrdBuilder(options).BuildAsync(_temp.File("x.img")))
            .Should().ThrowAsync<FileNotFoundException>().WithMessage("*spawn-chain helper*kata-agent-init does not exist*");
        File.Exists(_temp.File("x.img")).Should().BeFalse();
    }

    [Fact]
    public async Task A_missing_agent_is_a_clear_error()
    {
        await FluentActions.Awaiting(() => new InitrdBuilder(new InitrdOptions { AgentPath = _temp.File("kata-agent") }).BuildAsync(_temp.File("x.img")))
            .Should().ThrowAsync<FileNotFoundException>().WithMessage("*kata-agent does not exist*");
    }
}
