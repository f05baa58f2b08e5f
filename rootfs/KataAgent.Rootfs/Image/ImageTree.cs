using System.Text;
using KataAgent.Rootfs.Cpio;

namespace KataAgent.Rootfs.Image;

/// <summary>
/// The image as a set of entries keyed by absolute path. Parent directories appear on demand (0755); adding the
/// same thing twice is harmless, adding something different at a taken path fails. <see cref="WriteTo"/> writes
/// it as a cpio newc archive in path order, so that every directory precedes what it holds.
/// </summary>
public sealed class ImageTree
{
    private const int DefaultDirectoryPermissions = 0x1ED; // 0755
    private readonly SortedDictionary<string, ImageEntry> _entries = new(StringComparer.Ordinal);

    /// <summary>Every entry, in path order.</summary>
    public IEnumerable<ImageEntry> Entries => _entries.Values;

    /// <summary>The number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>The entry at <paramref name="path"/>, or null.</summary>
    public ImageEntry? Find(string path) => _entries.GetValueOrDefault(Normalize(path));

    /// <summary>Adds a directory (and its parents). Re-adding keeps the first permissions unless <paramref name="permissions"/> is given again differently, which updates them.</summary>
    public ImageEntry AddDirectory(string path, int permissions = DefaultDirectoryPermissions)
    {
        string normalized = Normalize(path);
        EnsureParents(normalized);
        if (_entries.TryGetValue(normalized, out var existing))
        {
            if (existing.Kind != ImageEntryKind.Directory)
            {
                throw new InvalidOperationException($"{normalized} is already in the image as a {existing.Kind}, not a directory");
            }
            if (existing.Permissions != permissions)
            {
                existing = existing with { Permissions = permissions };
                _entries[normalized] = existing;
            }
            return existing;
        }
        var entry = new ImageEntry(normalized, ImageEntryKind.Directory, permissions);
        _entries[normalized] = entry;
        return entry;
    }

    /// <summary>Adds a file copied from the host; permissions default to the host file's.</summary>
    public ImageEntry AddFile(string path, string hostPath, int? permissions = null)
    {
        if (!File.Exists(hostPath))
        {
            throw new FileNotFoundException($"{hostPath} (for {path} in the image) does not exist", hostPath);
        }
        int mode = permissions ?? (int)File.GetUnixFileMode(hostPath) & 0xFFF;
        return Add(new ImageEntry(Normalize(path), ImageEntryKind.File, mode) { HostPath = Path.GetFullPath(hostPath) });
    }

    /// <summary>Adds a file with the given content.</summary>
    public ImageEntry AddFile(string path, byte[] content, int permissions = 0x1A4 /* 0644 */) =>
        Add(new ImageEntry(Normalize(path), ImageEntryKind.File, permissions) { Content = content });

    /// <summary>Adds a UTF-8 text file.</summary>
    public ImageEntry AddTextFile(string path, string text, int permissions = 0x1A4 /* 0644 */) =>
        AddFile(path, Encoding.UTF8.GetBytes(text), permissions);

    /// <summary>Adds a symbolic link.</summary>
    public ImageEntry AddSymlink(string path, string target) =>
        Add(new ImageEntry(Normalize(path), ImageEntryKind.Symlink, 0x1FF) { LinkTarget = target });

    /// <summary>Adds a character device node.</summary>
    public ImageEntry AddCharacterDevice(string path, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        Add(new ImageEntry(Normalize(path), ImageEntryKind.CharacterDevice, permissions) { DeviceMajor = major, DeviceMinor = minor });

    /// <summary>Writes every entry to <paramref name="writer"/> (not the trailer).</summary>
    public void WriteTo(CpioNewcWriter writer)
    {
        var subdirectories = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in _entries.Values.Where(e => e.Kind == ImageEntryKind.Directory))
        {
            string parent = Parent(entry.Path);
            if (parent != "/")
            {
                subdirectories[parent] = subdirectories.GetValueOrDefault(parent) + 1;
            }
        }
        foreach (var entry in _entries.Values)
        {
            switch (entry.Kind)
            {
                case ImageEntryKind.Directory:
                    writer.AddDirectory(entry.Path, entry.Permissions, 2 + subdirectories.GetValueOrDefault(entry.Path));
                    break;
                case ImageEntryKind.File when entry.Content is not null:
                    writer.AddFile(entry.Path, entry.Content, entry.Permissions);
                    break;
                case ImageEntryKind.File:
                    writer.AddFileFrom(entry.Path, entry.HostPath!, entry.Permissions);
                    break;
                case ImageEntryKind.Symlink:
                    writer.AddSymlink(entry.Path, entry.LinkTarget!);
                    break;
                case ImageEntryKind.CharacterDevice:
                    writer.AddCharacterDevice(entry.Path, entry.DeviceMajor, entry.DeviceMinor, entry.Permissions);
                    break;
            }
        }
    }

    /// <summary>An absolute, normalized image path: <c>lib//x/</c> → <c>/lib/x</c>.</summary>
    public static string Normalize(string path)
    {
        string relative = CpioNewcWriter.NormalizeName(path);
        if (relative == ".")
        {
            throw new ArgumentException("the image root itself is not an entry", nameof(path));
        }
        return "/" + relative;
    }

    private ImageEntry Add(ImageEntry entry)
    {
        EnsureParents(entry.Path);
        if (_entries.TryGetValue(entry.Path, out var existing))
        {
            if (SameThing(existing, entry))
            {
                return existing;
            }
            throw new InvalidOperationException($"{entry.Path} is already in the image ({Describe(existing)}); cannot also add {Describe(entry)}");
        }
        _entries[entry.Path] = entry;
        return entry;
    }

    private void EnsureParents(string path)
    {
        string parent = Parent(path);
        if (parent == "/")
        {
            return;
        }
        if (_entries.TryGetValue(parent, out var existing))
        {
            if (existing.Kind != ImageEntryKind.Directory)
            {
                throw new InvalidOperationException($"cannot put {path} in the image: {parent} is a {existing.Kind}");
            }
            return;
        }
        AddDirectory(parent);
    }

    private static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    private static bool SameThing(ImageEntry a, ImageEntry b) =>
        a.Kind == b.Kind && a.Permissions == b.Permissions && a.LinkTarget == b.LinkTarget
        && a.DeviceMajor == b.DeviceMajor && a.DeviceMinor == b.DeviceMinor
        && (a.Kind != ImageEntryKind.File
            || (a.HostPath is not null && a.HostPath == b.HostPath)
            || (a.Content is not null && b.Content is not null && a.Content.AsSpan().SequenceEqual(b.Content)));

    private static string Describe(ImageEntry entry) => entry.Kind switch
    {
        ImageEntryKind.File when entry.HostPath is not null => $"a copy of {entry.HostPath}",
        ImageEntryKind.File => $"a file of {entry.Content!.Length} bytes",
        ImageEntryKind.Symlink => $"a symlink to {entry.LinkTarget}",
        ImageEntryKind.CharacterDevice => $"char device {entry.DeviceMajor}:{entry.DeviceMinor}",
        _ => "a directory",
    };
}
