using CliWrap;
using CliWrap.Buffered;
using FluentAssertions;
using KataAgent.Host.Sandboxes;
using KataAgent.Tests.Infrastructure;
using Xunit;

namespace KataAgent.Tests.HostSandboxes;

/// <summary>Packing a rootfs directory into an ext4 image, checked with e2fsprogs' own debugfs and e2fsck.</summary>
public sealed class Ext4ImageTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Packs_files_directories_and_symlinks_into_a_clean_ext4_image_with_room_to_spare()
    {
        string source = Directory.CreateDirectory(_temp.File("tree")).FullName;
        Directory.CreateDirectory(Path.Combine(source, "etc", "app"));
        await File.WriteAllTextAsync(Path.Combine(source, "etc", "app", "app.conf"), "greeting=hello\n");
        var big = new byte[3 * 1024 * 1024];
        new Random(4).NextBytes(big);
        await File.WriteAllBytesAsync(Path.Combine(source, "blob"), big);
        File.CreateSymbolicLink(Path.Combine(source, "conf"), "etc/app/app.conf");
        string image = _temp.File("out/rootfs.ext4");

        await Ext4Image.CreateAsync(source, image);

        string debugfs = Sbin("debugfs");
        (await Run(debugfs, "-R", "cat /etc/app/app.conf", image)).Should().Be("greeting=hello\n");
        (await Run(debugfs, "-R", "stat /conf", image)).Should().Contain("Type: symlink").And.Contain("etc/app/app.conf");
        (await Run(debugfs, "-R", "stat /blob", image)).Should().Contain($"Size: {big.Length}");
        var check = await Cli.Wrap(Sbin("e2fsck")).WithArguments(["-fn", image]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        check.ExitCode.Should().Be(0, check.StandardOutput + check.StandardError);
        // Room for what the container writes: well beyond the 3 MiB the tree takes.
        var stats = await Run(Sbin("dumpe2fs"), "-h", image);
        long freeBlocks = long.Parse(stats.Split('\n').First(l => l.StartsWith("Free blocks:")).Split(':')[1].Trim());
        (freeBlocks * 4096).Should().BeGreaterThan(32L * 1024 * 1024);
        stats.Should().NotContain("has_journal");
    }

    [Fact]
    public async Task Missing_mkfs_ext4_or_source_give_clear_errors()
    {
        string source = Directory.CreateDirectory(_temp.File("tree")).FullName;

        var missingTool = async () => await Ext4Image.CreateAsync(source, _temp.File("x.ext4"), [_temp.File("empty-bin")], CancellationToken.None);
        (await missingTool.Should().ThrowAsync<DiskImageException>()).Which.Message.Should().Contain("mkfs.ext4").And.Contain("e2fsprogs");

        var missingSource = async () => await Ext4Image.CreateAsync(_temp.File("nope"), _temp.File("y.ext4"));
        (await missingSource.Should().ThrowAsync<DirectoryNotFoundException>()).Which.Message.Should().Contain("nope");
        File.Exists(_temp.File("y.ext4")).Should().BeFalse();
    }

    private static string Sbin(string tool) =>
        new[] { "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{tool} is missing: apt-get install e2fsprogs (build.sh installs it)");

    private static async Task<string> Run(string program, params string[] arguments)
    {
        var result = await Cli.Wrap(program).WithArguments(arguments).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        result.ExitCode.Should().Be(0, result.StandardError);
        return result.StandardOutput;
    }
}
