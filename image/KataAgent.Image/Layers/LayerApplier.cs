using System.Formats.Tar;
using KataAgent.Image.Containment;
using KataAgent.Linux.Interop;

namespace KataAgent.Image.Layers;

/// <summary>
/// Applies one uncompressed layer tar onto a rootfs directory (the flattened variant of reference
/// vm-io-imagepull.md §3.4). Every entry is resolved inside the root with no symlink followed on the way
/// (<see cref="ContainedRoot.OpenDirectory"/>) and created with the *at calls relative to its parent's fd, so the
/// final component is never followed either. Whiteouts delete lower content; opaque directories hide lower
/// children but keep what this layer wrote before them.
/// </summary>
internal static class LayerApplier
{
    private const int Block = 512;

    /// <summary>Applies <paramref name="uncompressedTar"/> onto the existing directory <paramref name="root"/>; returns the warnings.</summary>
    public static async Task<IReadOnlyList<string>> ApplyAsync(Stream uncompressedTar, string root, CancellationToken cancellationToken)
    {
        using var contained = new ContainedRoot(root);
        var warnings = new List<string>();
        await ApplyAsync(uncompressedTar, contained, "layer", warnings, cancellationToken).ConfigureAwait(false);
        return warnings;
    }

    /// <summary>
    /// Applies <paramref name="uncompressedTar"/> onto <paramref name="root"/>, reading the tar to its end-of-archive
    /// blocks (the caller drains the rest for the diff_id). Errors name <paramref name="layer"/> and the entry;
    /// what the filesystem refuses but the image can run without (an xattr) is added to <paramref name="warnings"/>.
    /// </summary>
    public static async Task ApplyAsync(
        Stream uncompressedTar,
        ContainedRoot root,
        string layer,
        List<string> warnings,
        CancellationToken cancellationToken)
    {
        var state = new LayerApplyState(root, layer, warnings);
        var recorder = new TarHeaderRecorder(uncompressedTar);
        using var reader = new TarReader(recorder, leaveOpen: true);
        var xattrs = new List<KeyValuePair<string, byte[]>>();
        long nextHeader = 0;
        long dataEnd = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            recorder.BeginRecording();
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException) when (recorder.BytesRead == dataEnd || recorder.BytesRead == nextHeader)
            {
                // The archive stops right after an entry's data or at a header boundary, without the padding or
                // the end-of-archive blocks: umoci 0.4.7's insert writes such layers, and Go's archive/tar (docker,
                // containerd, umoci) reads them as ended there. A stop anywhere else is a truncated layer.
                break;
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException or OverflowException)
            {
                throw new ImageException(ImageErrorKind.InvalidInput,
                    $"{layer}: not a valid tar archive at byte {recorder.BytesRead}: {e.Message}", e);
            }
            var (headers, start) = recorder.EndRecording();
            if (entry is null)
                break;
            long dataStart = recorder.BytesRead;
            long dataLength = entry.DataStream is null ? 0 : entry.Length;
            xattrs.Clear();
            if (entry.EntryType != TarEntryType.GlobalExtendedAttributes
                && !PaxXattrs.TryParse(headers, checked((int)(nextHeader - start)), xattrs))
            {
                throw new ImageException(ImageErrorKind.InvalidInput, $"{layer}: entry '{entry.Name}': its extended headers are malformed");
            }
            try
            {
                await state.ApplyAsync(entry, xattrs, cancellationToken).ConfigureAwait(false);
            }
            catch (ImageException e)
            {
                throw new ImageException(e.Kind, $"{layer}: entry '{entry.Name}': {e.Message}", e);
            }
            catch (LinuxException e)
            {
                throw new IOException($"{layer}: entry '{entry.Name}': {e.Message}", e);
            }
            if (entry.DataStream is { } data)
                await data.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            dataEnd = dataStart + dataLength;
            nextHeader = (dataEnd + Block - 1) / Block * Block;
        }
        try
        {
            state.Finish();
        }
        catch (ImageException e)
        {
            throw new ImageException(e.Kind, $"{layer}: {e.Message}", e);
        }
        catch (LinuxException e)
        {
            throw new IOException($"{layer}: {e.Message}", e);
        }
    }
}
