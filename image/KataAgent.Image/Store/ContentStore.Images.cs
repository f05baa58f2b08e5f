using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KataAgent.Image.References;

namespace KataAgent.Image.Store;

public sealed partial class ContentStore
{
    /// <summary>Records <paramref name="name"/> as naming the manifest; its config and layers must be stored.</summary>
    public Task<StoredImage> TagAsync(string name, Digest manifestDigest, CancellationToken cancellationToken) =>
        TagAsync(name, manifestDigest, null, cancellationToken);

    /// <summary>As the public overload, keeping the index the manifest was chosen from with the image.</summary>
    internal async Task<StoredImage> TagAsync(string name, Digest manifestDigest, Digest? indexDigest, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var canonical = ImageReference.Parse(name).ToString();
        using var use = await UseAsync(cancellationToken).ConfigureAwait(false);
        var manifest = ReadManifest(manifestDigest);
        if (indexDigest is { } index && !Contains(index))
            throw new ImageException(ImageErrorKind.NotFound, $"index {index} of {canonical} is not in the content store {Root}");
        foreach (var blob in manifest.Layers.Select(l => l.Digest).Prepend(manifest.Config.Digest))
        {
            if (!Contains(Digest.Parse(blob)))
                throw new ImageException(ImageErrorKind.NotFound, $"blob {blob} of {canonical} (manifest {manifestDigest}) is not in the content store {Root}");
        }
        var record = new ImageRecord
        {
            Name = canonical,
            Manifest = manifestDigest.ToString(),
            Index = indexDigest?.ToString(),
            Stored = DateTimeOffset.UtcNow,
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.ImageRecord);
        await WriteAtomicallyAsync(RecordPath(canonical), json, cancellationToken).ConfigureAwait(false);
        return Load(record) ?? throw new ImageException(ImageErrorKind.NotFound, $"image {canonical} vanished from the content store {Root} as it was tagged");
    }

    /// <summary>The stored images, by name.</summary>
    public IReadOnlyList<StoredImage> ListImages() =>
        ReadRecords().Select(Load).OfType<StoredImage>().OrderBy(i => i.Name, StringComparer.Ordinal).ToList();

    /// <summary>
    /// The image named <paramref name="nameOrId"/>: a reference (normalised as <see cref="ImageReference.Parse"/> does),
    /// a manifest digest, or a unique prefix of its hex; null when there is none.
    /// </summary>
    public StoredImage? FindImage(string nameOrId)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var byName = FindRecordByName(nameOrId);
        if (byName is not null)
            return Load(byName);
        var matches = FindRecordsById(nameOrId);
        return matches.Select(r => r.Manifest).Distinct().Count() == 1 ? Load(matches[0]) : null;
    }

    /// <summary>
    /// Removes the image record; its blobs stay until <see cref="PruneAsync"/>. False when absent. A digest or id
    /// prefix removes every name of that image.
    /// </summary>
    public bool RemoveImage(string nameOrId)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var byName = FindRecordByName(nameOrId);
        var records = byName is not null ? [byName] : FindRecordsById(nameOrId);
        if (records.Count == 0 || records.Select(r => r.Manifest).Distinct().Count() > 1)
            return false;
        foreach (var record in records)
            File.Delete(RecordPath(record.Name));
        return true;
    }

    private ImageRecord? FindRecordByName(string name)
    {
        ImageReference reference;
        try
        {
            reference = ImageReference.Parse(name);
        }
        catch (ImageException)
        {
            return null;
        }
        return ReadRecord(RecordPath(reference.ToString()));
    }

    private List<ImageRecord> FindRecordsById(string id)
    {
        if (Digest.TryParse(id, out var digest))
            return ReadRecords().Where(r => r.Manifest == digest.ToString()).ToList();
        var prefix = id.StartsWith("sha256:", StringComparison.Ordinal) ? id["sha256:".Length..] : id;
        if (prefix.Length == 0 || !prefix.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
            return [];
        return ReadRecords().Where(r => Digest.TryParse(r.Manifest, out var d) && d.Hex.StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    /// <summary>A record's file: the name hashed, since a reference holds '/' and ':' and may be long.</summary>
    private string RecordPath(string canonicalName) =>
        Path.Combine(ImagesDirectory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalName))) + ".json");

    private IEnumerable<ImageRecord> ReadRecords()
    {
        foreach (var path in Directory.EnumerateFiles(ImagesDirectory, "*.json"))
        {
            var record = ReadRecord(path);
            if (record is not null)
                yield return record;
        }
    }

    /// <summary>A record, or null when the file is absent or is not one of ours (a record file is never half written).</summary>
    private static ImageRecord? ReadRecord(string path)
    {
        try
        {
            var record = JsonSerializer.Deserialize(File.ReadAllBytes(path), StoreJsonContext.Default.ImageRecord);
            return record is not null && Digest.TryParse(record.Manifest, out _) ? record : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The image a record names, or null when its manifest or config is gone (removed under us).</summary>
    private StoredImage? Load(ImageRecord record)
    {
        try
        {
            var manifestDigest = Digest.Parse(record.Manifest);
            var manifest = ReadManifest(manifestDigest);
            var configDigest = Digest.Parse(manifest.Config.Digest);
            var config = ReadConfig(configDigest);
            long size = new FileInfo(BlobPath(manifestDigest)).Length + manifest.Config.Size + manifest.Layers.Sum(l => l.Size);
            return new StoredImage(record.Name, manifestDigest, manifest, configDigest, config, size, record.Stored);
        }
        catch (ImageException e) when (e.Kind == ImageErrorKind.NotFound)
        {
            return null;
        }
    }
}
