using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Tests.Infrastructure;

/// <summary>
/// A loop device over an image in a temp directory, optionally holding ext4 and mounted on a directory
/// below /run/kata-containers/ (where the agent accepts volume and swap paths). Dispose unmounts,
/// detaches and deletes all of it.
/// </summary>
public sealed class LoopMount : IAsyncDisposable
{
    private readonly TempDirectory _directory;

    private LoopMount(TempDirectory directory, string image, string devicePath, string? mountPoint)
    {
        _directory = directory;
        ImagePath = image;
        DevicePath = devicePath;
        MountPoint = mountPoint;
        string[] number = File.ReadAllText($"/sys/block/{Name}/dev").Trim().Split(':');
        Major = int.Parse(number[0]);
        Minor = int.Parse(number[1]);
    }

    public string ImagePath { get; }

    /// <summary>/dev/loopN.</summary>
    public string DevicePath { get; }

    public string Name => Path.GetFileName(DevicePath);

    public int Major { get; }

    public int Minor { get; }

    /// <summary>Where the filesystem is mounted, or null for a bare device.</summary>
    public string? MountPoint { get; }

    /// <summary>A zero-filled image of <paramref name="imageMiB"/> on a loop device, nothing on it.</summary>
    public static Task<LoopMount> CreateBlankAsync(int imageMiB) => CreateAsync(imageMiB, 0, null);

    /// <summary>
    /// An image of <paramref name="imageMiB"/> whose first <paramref name="filesystemMiB"/> hold ext4, mounted
    /// on a fresh directory /run/kata-containers/<paramref name="prefix"/>-GUID.
    /// </summary>
    public static Task<LoopMount> CreateExt4Async(int imageMiB, int filesystemMiB, string prefix) =>
        CreateAsync(imageMiB, filesystemMiB, $"/run/kata-containers/{prefix}-{Guid.NewGuid():N}");

    private static async Task<LoopMount> CreateAsync(int imageMiB, int filesystemMiB, string? mountPoint)
    {
        var directory = new TempDirectory();
        string image = directory.File("disk.img");
        await using (var stream = File.Create(image))
        {
            // Written, not truncated: zeros on disk, as a blank disk a runtime hot-plugs.
            byte[] chunk = new byte[1024 * 1024];
            for (int i = 0; i < imageMiB; i++)
            {
                await stream.WriteAsync(chunk);
            }
        }
        if (filesystemMiB > 0)
        {
            await Cli.Wrap("mkfs.ext4").WithArguments(["-q", "-F", image, $"{filesystemMiB}M"]).ExecuteBufferedAsync();
        }
        var attach = await Cli.Wrap("losetup").WithArguments(["-f", "--show", image]).ExecuteBufferedAsync();
        string device = attach.StandardOutput.Trim();
        if (mountPoint is not null)
        {
            Directory.CreateDirectory(mountPoint);
            await Cli.Wrap("mount").WithArguments(["-t", "ext4", device, mountPoint]).ExecuteBufferedAsync();
        }
        return new LoopMount(directory, image, device, mountPoint);
    }

    public async ValueTask DisposeAsync()
    {
        if (MountPoint is not null)
        {
            await Cli.Wrap("umount").WithArguments([MountPoint]).WithValidation(CommandResultValidation.None).ExecuteAsync();
            try
            {
                Directory.Delete(MountPoint);
            }
            catch (IOException)
            {
            }
        }
        await Cli.Wrap("losetup").WithArguments(["-d", DevicePath]).WithValidation(CommandResultValidation.None).ExecuteAsync();
        _directory.Dispose();
    }
}
