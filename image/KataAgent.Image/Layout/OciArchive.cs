using System.Formats.Tar;
using System.IO.Compression;
using KataAgent.Image.References;

namespace KataAgent.Image.Layout;

/// <summary>
/// Unpacks the OCI layout inside a tar archive (as <c>skopeo copy … oci-archive:FILE</c> writes it; gzip-compressed
/// too) into a directory. Only what a layout holds is taken: <c>oci-layout</c>, <c>index.json</c> and
/// <c>blobs/&lt;alg&gt;/&lt;hex&gt;</c> whose name is a valid digest, all regular files; the file written is named from
/// those validated parts, never from the entry's own path, so no entry can land outside the directory. Any other
/// entry is ignored; a link where a layout file should be is refused.
/// </summary>
internal static class OciArchive
{
    /// <summary>Unpacks <paramref name="archive"/> into <paramref name="directory"/> (which exists and is empty).</summary>
    public static async Task ExtractAsync(string archive, string directory, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
        Stream input = file;
        var magic = new byte[2];
        int got = await file.ReadAsync(magic, cancellationToken).ConfigureAwait(false);
        file.Position = 0;
        if (got == 2 && magic[0] == 0x1F && magic[1] == 0x8B)
            input = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
        try
        {
            await using var reader = new TarReader(input, leaveOpen: true);
            int taken = 0;
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                var target = TargetOf(entry.Name, directory);
                if (target is null)
                    continue;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile))
                    throw new ImageException(ImageErrorKind.InvalidInput, $"OCI archive {archive}: '{entry.Name}' is a {entry.EntryType}, not a regular file");
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await using (var output = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
                {
                    if (entry.DataStream is not null)
                        await entry.DataStream.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
                }
                taken++;
            }
            if (taken == 0)
                throw new ImageException(ImageErrorKind.InvalidInput, $"OCI archive {archive} holds no OCI layout (no index.json, oci-layout or blobs/)");
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"OCI archive {archive} is not a valid tar: {e.Message}", e);
        }
        finally
        {
            if (!ReferenceEquals(input, file))
                await input.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Where a layout file of the archive goes, built from validated parts; null for anything else.</summary>
    private static string? TargetOf(string entryName, string directory)
    {
        var name = entryName.Replace('\\', '/');
        while (name.StartsWith("./", StringComparison.Ordinal))
            name = name[2..];
        if (name is "index.json" or "oci-layout")
            return Path.Combine(directory, name);
        var parts = name.Split('/');
        if (parts.Length == 3 && parts[0] == "blobs" && Digest.TryParse(parts[1] + ":" + parts[2], out var digest))
            return Path.Combine(directory, "blobs", digest.Algorithm, digest.Hex);
        return null;
    }
}
