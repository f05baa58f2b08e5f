using System.Security.Cryptography;
using System.Text.Json;

namespace KataAgent.Host.Checkpoints;

/// <summary>
/// The layout of a checkpoint directory, and its checks: manifest.json (written last), vm-state.zst,
/// records/sandbox.json, records/network.json (the pod network's journal, when there was one), disks/*.
/// </summary>
internal static class CheckpointDirectory
{
    /// <summary>The layout version this library writes and reads.</summary>
    public const int FormatVersion = 1;

    public const string ManifestFile = "manifest.json";

    public const string StateFile = "vm-state.zst";

    public const string RecordFile = "records/sandbox.json";

    public const string NetworkJournalFile = "records/network.json";

    public const string DisksDirectory = "disks";

    /// <summary>Makes <paramref name="directory"/> for a new checkpoint: it must not exist, or be empty.</summary>
    /// <exception cref="CheckpointException">It is a file, or holds something.</exception>
    public static void Create(string directory)
    {
        if (File.Exists(directory))
        {
            throw new CheckpointException($"{directory} is a file, not a directory for a checkpoint");
        }
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new CheckpointException($"{directory} is not empty: a checkpoint needs a directory of its own");
        }
        Directory.CreateDirectory(Path.Combine(directory, "records"));
        Directory.CreateDirectory(Path.Combine(directory, DisksDirectory));
    }

    /// <summary>The size and SHA-256 of <paramref name="path"/>, listed under <paramref name="name"/>.</summary>
    public static async Task<CheckpointFile> DescribeAsync(string path, string name, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1024 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        byte[] hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return new CheckpointFile(name, stream.Length, Convert.ToHexStringLower(hash));
    }

    /// <summary>Writes the manifest, atomically: a reader sees the whole of it or none.</summary>
    public static async Task WriteManifestAsync(string directory, CheckpointManifest manifest, CancellationToken cancellationToken)
    {
        string path = Path.Combine(directory, ManifestFile);
        string temporary = path + ".tmp";
        await using (var stream = File.Create(temporary))
        {
            await JsonSerializer.SerializeAsync(stream, manifest, CheckpointJsonContext.Default.CheckpointManifest, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        File.Move(temporary, path, overwrite: false);
    }

    /// <summary>
    /// Reads the manifest of <paramref name="directory"/> and checks every file it lists (present, of its size, of its
    /// SHA-256), the kernel and initrd it names too; then reads the records.
    /// </summary>
    /// <exception cref="CheckpointException">Not a checkpoint, another format, or a file missing, truncated or corrupt (named).</exception>
    public static async Task<(CheckpointManifest Manifest, CheckpointRecord Record)> ReadVerifiedAsync(string directory, IProgress<CheckpointProgress>? progress, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            throw new CheckpointException($"no checkpoint in {directory}: the directory does not exist");
        }
        string manifestPath = Path.Combine(directory, ManifestFile);
        CheckpointManifest manifest;
        try
        {
            await using var stream = File.OpenRead(manifestPath);
            manifest = await JsonSerializer.DeserializeAsync(stream, CheckpointJsonContext.Default.CheckpointManifest, cancellationToken).ConfigureAwait(false)
                ?? throw new CheckpointException($"{manifestPath} is empty");
        }
        catch (FileNotFoundException e)
        {
            throw new CheckpointException($"no checkpoint in {directory}: {ManifestFile} is missing (a checkpoint that did not finish has none)", e);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{manifestPath} is corrupt: {e.Message}", e);
        }
        if (manifest.FormatVersion != FormatVersion)
        {
            throw new CheckpointException($"{manifestPath}: format version {manifest.FormatVersion} is not {FormatVersion}, the one this library reads");
        }
        if (manifest.Files is null || manifest.Kernel is null || manifest.Initrd is null)
        {
            throw new CheckpointException($"{manifestPath} is corrupt: it lacks files, kernel or initrd");
        }
        long total = manifest.Files.Sum(f => f.Size);
        long done = 0;
        foreach (var file in manifest.Files)
        {
            string path = Resolve(directory, file.Path, manifestPath);
            await VerifyAsync(path, file, "checkpoint file " + file.Path, cancellationToken).ConfigureAwait(false);
            done += file.Size;
            progress?.Report(new CheckpointProgress(CheckpointStage.Checking, done, total, file.Path));
        }
        await VerifyAsync(manifest.Kernel.Path, manifest.Kernel, "the guest kernel", cancellationToken).ConfigureAwait(false);
        await VerifyAsync(manifest.Initrd.Path, manifest.Initrd, "the guest initrd", cancellationToken).ConfigureAwait(false);
        if (!manifest.Files.Any(f => f.Path == StateFile) || !manifest.Files.Any(f => f.Path == RecordFile))
        {
            throw new CheckpointException($"{manifestPath} is corrupt: it does not list {StateFile} and {RecordFile}");
        }
        string recordPath = Path.Combine(directory, RecordFile);
        try
        {
            await using var stream = File.OpenRead(recordPath);
            var record = await JsonSerializer.DeserializeAsync(stream, CheckpointJsonContext.Default.CheckpointRecord, cancellationToken).ConfigureAwait(false)
                ?? throw new CheckpointException($"{recordPath} is empty");
            foreach (var disk in record.Disks)
            {
                if (!manifest.Files.Any(f => f.Path == disk.File))
                {
                    throw new CheckpointException($"{recordPath} names disk {disk.File}, which {ManifestFile} does not list");
                }
            }
            return (manifest, record);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{recordPath} is corrupt: {e.Message}", e);
        }
    }

    /// <summary>A manifest's relative path inside the directory; anything that would leave it is refused.</summary>
    internal static string Resolve(string directory, string relative, string manifestPath)
    {
        string root = Path.GetFullPath(directory);
        string full = Path.GetFullPath(Path.Combine(root, relative));
        if (string.IsNullOrEmpty(relative) || Path.IsPathRooted(relative) || !full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new CheckpointException($"{manifestPath} is corrupt: the file '{relative}' is not inside the checkpoint directory");
        }
        return full;
    }

    private static async Task VerifyAsync(string path, CheckpointFile expected, string what, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new CheckpointException($"{what} {path} is missing");
        }
        if (info.Length != expected.Size)
        {
            throw new CheckpointException(info.Length < expected.Size
                ? $"{what} {path} is truncated: {info.Length} of {expected.Size} bytes"
                : $"{what} {path} has {info.Length} bytes, not the {expected.Size} the manifest lists");
        }
        var actual = await DescribeAsync(path, expected.Path, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(actual.Sha256, expected.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new CheckpointException($"{what} {path} is corrupt: its SHA-256 is {actual.Sha256}, the manifest lists {expected.Sha256}");
        }
    }
}
