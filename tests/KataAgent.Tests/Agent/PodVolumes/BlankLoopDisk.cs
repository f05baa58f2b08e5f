using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Tests.Agent.PodVolumes;

/// <summary>A sparse file of zeros attached to a loop device: a raw disk as the host hands one to the VM.</summary>
public sealed class BlankLoopDisk : IAsyncDisposable
{
    private readonly TempDirectory _directory;

    private BlankLoopDisk(TempDirectory directory, string file, string devicePath, int major, int minor)
    {
        _directory = directory;
        FilePath = file;
        DevicePath = devicePath;
        Major = major;
        Minor = minor;
    }

    /// <summary>The backing file: what the host sees of the disk.</summary>
    public string FilePath { get; }

    /// <summary>/dev/loopN.</summary>
    public string DevicePath { get; }

    public string Name => Path.GetFileName(DevicePath);

    public int Major { get; }

    public int Minor { get; }

    public static async Task<BlankLoopDisk> CreateAsync(long bytes)
    {
        var directory = new TempDirectory();
        string file = directory.File("disk.raw");
        using (var stream = File.Create(file))
        {
            stream.SetLength(bytes);
        }
        var attach = await Cli.Wrap("losetup").WithArguments(["-f", "--show", file]).ExecuteBufferedAsync();
        string device = attach.StandardOutput.Trim();
        string[] number = File.ReadAllText($"/sys/block/{Path.GetFileName(device)}/dev").Trim().Split(':');
        return new BlankLoopDisk(directory, file, device, int.Parse(number[0]), int.Parse(number[1]));
    }

    /// <summary>The two bytes at 1080 of the backing file are ext4's magic.</summary>
    public bool HoldsExt4()
    {
        using var stream = File.OpenRead(FilePath);
        stream.Position = 1080;
        return stream.ReadByte() == 0x53 && stream.ReadByte() == 0xEF;
    }

    public async ValueTask DisposeAsync()
    {
        await Cli.Wrap("losetup").WithArguments(["-d", DevicePath]).WithValidation(CommandResultValidation.None).ExecuteAsync();
        _directory.Dispose();
    }
}
