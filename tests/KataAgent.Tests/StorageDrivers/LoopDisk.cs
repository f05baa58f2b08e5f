using CliWrap;
using CliWrap.Buffered;
using KataAgent.Tests.Infrastructure;

namespace KataAgent.Tests.StorageDrivers;

/// <summary>
/// An ext4 image made with <c>mkfs.ext4 -d</c> from a few files, attached to a loop device: a real
/// block device for the blk storage driver to mount on a host without virtio-blk.
/// </summary>
public sealed class LoopDisk : IAsyncDisposable
{
    private readonly TempDirectory _directory;

    private LoopDisk(TempDirectory directory, string devicePath, int major, int minor)
    {
        _directory = directory;
        DevicePath = devicePath;
        Major = major;
        Minor = minor;
    }

    /// <summary>/dev/loopN.</summary>
    public string DevicePath { get; }

    public string Name => Path.GetFileName(DevicePath);

    public int Major { get; }

    public int Minor { get; }

    public static async Task<LoopDisk> CreateAsync(IReadOnlyDictionary<string, string> files, string? copyTree = null)
    {
        var directory = new TempDirectory();
        string tree = directory.File("tree");
        Directory.CreateDirectory(tree);
        if (copyTree is not null)
        {
            await Cli.Wrap("cp").WithArguments(["-a", copyTree + "/.", tree]).ExecuteAsync();
        }
        foreach (var (name, content) in files)
        {
            await File.WriteAllTextAsync(Path.Combine(tree, name), content);
        }
        string image = directory.File("disk.img");
        await Cli.Wrap("mkfs.ext4").WithArguments(["-q", "-F", "-d", tree, image, "16M"]).ExecuteBufferedAsync();
        var attach = await Cli.Wrap("losetup").WithArguments(["-f", "--show", image]).ExecuteBufferedAsync();
        string device = attach.StandardOutput.Trim();
        string[] number = File.ReadAllText($"/sys/block/{Path.GetFileName(device)}/dev").Trim().Split(':');
        return new LoopDisk(directory, device, int.Parse(number[0]), int.Parse(number[1]));
    }

    public async ValueTask DisposeAsync()
    {
        await Cli.Wrap("losetup").WithArguments(["-d", DevicePath]).WithValidation(CommandResultValidation.None).ExecuteAsync();
        _directory.Dispose();
    }
}
