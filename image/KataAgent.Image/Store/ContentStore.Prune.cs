using KataAgent.Image.References;

namespace KataAgent.Image.Store;

public sealed partial class ContentStore
{
    /// <summary>Deletes every blob no image record reaches, and stale partial downloads; returns the bytes freed.</summary>
    /// <remarks>
    /// It waits for the store to be out of use (no pull or import holds it), so what it sweeps is garbage: every
    /// partial download then belongs to a pull that is over, and every unrecorded blob to an image since removed.
    /// Mark: each record's manifest, its config and layers (and the index it came from). Sweep: the rest.
    /// </remarks>
    public async Task<long> PruneAsync(CancellationToken cancellationToken)
    {
        using var exclusive = await StoreLock.AcquireAsync(StoreLockPath, exclusive: true, cancellationToken).ConfigureAwait(false);
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in ReadRecords())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var manifestDigest = Digest.Parse(record.Manifest);
            live.Add(manifestDigest.ToString());
            if (record.Index is not null && Digest.TryParse(record.Index, out var index))
                live.Add(index.ToString());
            try
            {
                var manifest = ReadManifest(manifestDigest);
                live.Add(Digest.Parse(manifest.Config.Digest).ToString());
                foreach (var layer in manifest.Layers)
                    live.Add(Digest.Parse(layer.Digest).ToString());
            }
            catch (ImageException e) when (e.Kind == ImageErrorKind.NotFound)
            {
                // A record whose manifest is gone keeps nothing alive.
            }
        }

        long freed = 0;
        foreach (var algorithm in new[] { "sha256", "sha512" })
        {
            foreach (var file in new DirectoryInfo(Path.Combine(Root, "blobs", algorithm)).EnumerateFiles())
            {
                cancellationToken.ThrowIfCancellationRequested();
                // A valid name is checked against the marks; anything else (a temp file of a crashed write) is garbage too.
                if (Digest.TryParse(algorithm + ":" + file.Name, out var digest) && live.Contains(digest.ToString()))
                    continue;
                freed += Sweep(file);
            }
        }
        foreach (var file in new DirectoryInfo(IngestDirectory).EnumerateFiles())
            freed += Sweep(file);
        foreach (var file in new DirectoryInfo(ImagesDirectory).EnumerateFiles("*" + TempMarker + "*"))
            freed += Sweep(file);
        foreach (var directory in new DirectoryInfo(TempDirectory).EnumerateDirectories())
        {
            freed += directory.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            directory.Delete(recursive: true);
        }
        return freed;
    }

    private static long Sweep(FileInfo file)
    {
        long length = file.Length;
        file.Delete();
        return length;
    }
}
