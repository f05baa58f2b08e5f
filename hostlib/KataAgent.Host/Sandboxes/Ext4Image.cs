using System.Globalization;
using CliWrap;
using CliWrap.Buffered;

namespace KataAgent.Host.Sandboxes;

/// <summary>Packs a directory tree into an ext4 image file with <c>mkfs.ext4 -d</c> (e2fsprogs): no root, no loop device, no mount.</summary>
public static class Ext4Image
{
    private const long BlockSize = 4096;
    private const long MiB = 1024 * 1024;

    /// <summary>Free space on top of the tree, for what the container writes and for ext4's own metadata.</summary>
    private const long Headroom = 64 * MiB;

    /// <summary>Where mkfs.ext4 lives when PATH lacks the sbin directories (as it does for most users).</summary>
    private static readonly string[] SbinDirectories = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

    /// <summary>
    /// Creates <paramref name="imagePath"/> (sparse) holding a copy of <paramref name="sourceDirectory"/>, sized from
    /// the tree (its blocks and inodes, plus a quarter and <c>64 MiB</c> of headroom).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The source directory does not exist.</exception>
    /// <exception cref="DiskImageException">mkfs.ext4 is not installed (package e2fsprogs), or it failed (its message included).</exception>
    public static Task CreateAsync(string sourceDirectory, string imagePath, CancellationToken cancellationToken = default) =>
        CreateAsync(sourceDirectory, imagePath, [.. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries), .. SbinDirectories], cancellationToken);

    /// <summary>As the public overload, looking for mkfs.ext4 only in <paramref name="searchDirectories"/>.</summary>
    internal static async Task CreateAsync(string sourceDirectory, string imagePath, IReadOnlyList<string> searchDirectories, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(sourceDirectory))
        {
            throw new DirectoryNotFoundException($"the rootfs directory {sourceDirectory} does not exist");
        }
        string mkfs = FindMkfs(searchDirectories);
        var (bytes, inodes) = Measure(new DirectoryInfo(sourceDirectory));
        long size = RoundUp(bytes + bytes / 4 + Headroom, MiB);
        // Twice the tree's inodes, at least 16 Ki: writes in the container need inodes as much as blocks.
        long inodeCount = Math.Max(16 * 1024, inodes * 2);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(imagePath))!);
        File.Delete(imagePath);
        var result = await Cli.Wrap(mkfs)
            .WithArguments([
                "-q", "-F",
                "-t", "ext4",
                "-b", BlockSize.ToString(CultureInfo.InvariantCulture),
                "-N", inodeCount.ToString(CultureInfo.InvariantCulture),
                // A throwaway per-container disk: a journal would cost space and mkfs time and buys nothing.
                "-O", "^has_journal",
                "-d", sourceDirectory,
                imagePath,
                $"{size / 1024}k",
            ])
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            File.Delete(imagePath);
            throw new DiskImageException($"mkfs.ext4 -d {sourceDirectory} {imagePath} failed (exit {result.ExitCode}): {(result.StandardError + result.StandardOutput).Trim()}");
        }
    }

    /// <summary>
    /// Creates <paramref name="imagePath"/> (sparse) as an empty ext4 filesystem of <paramref name="sizeBytes"/>: a
    /// scratch disk the guest fills (guest pull's layers and rootfs).
    /// </summary>
    /// <exception cref="DiskImageException">mkfs.ext4 is not installed (package e2fsprogs), or it failed.</exception>
    public static async Task CreateEmptyAsync(string imagePath, long sizeBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sizeBytes, 16 * MiB);
        string mkfs = FindMkfs([.. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries), .. SbinDirectories]);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(imagePath))!);
        File.Delete(imagePath);
        var result = await Cli.Wrap(mkfs)
            .WithArguments(["-q", "-F", "-t", "ext4", "-b", BlockSize.ToString(CultureInfo.InvariantCulture), imagePath, $"{RoundUp(sizeBytes, MiB) / 1024}k"])
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            File.Delete(imagePath);
            throw new DiskImageException($"mkfs.ext4 {imagePath} failed (exit {result.ExitCode}): {(result.StandardError + result.StandardOutput).Trim()}");
        }
    }

    private static string FindMkfs(IReadOnlyList<string> searchDirectories)
    {
        foreach (string directory in searchDirectories)
        {
            string candidate = Path.Combine(directory, "mkfs.ext4");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DiskImageException(
            $"mkfs.ext4 is not installed (searched {string.Join(":", searchDirectories)}): install the e2fsprogs package (apt-get install e2fsprogs) to pack container rootfs directories into ext4 images");
    }

    /// <summary>Bytes in whole blocks, and inodes, that the tree takes; symlinks are counted, never followed.</summary>
    private static (long Bytes, long Inodes) Measure(DirectoryInfo root)
    {
        long bytes = BlockSize;
        long inodes = 1;
        var pending = new Stack<DirectoryInfo>([root]);
        while (pending.Count > 0)
        {
            foreach (var entry in pending.Pop().EnumerateFileSystemInfos())
            {
                inodes++;
                if (entry.LinkTarget is not null)
                {
                    bytes += BlockSize;
                }
                else if (entry is DirectoryInfo directory)
                {
                    bytes += BlockSize;
                    pending.Push(directory);
                }
                else if (entry is FileInfo file)
                {
                    bytes += RoundUp(file.Length, BlockSize);
                }
            }
        }
        return (bytes, inodes);
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
