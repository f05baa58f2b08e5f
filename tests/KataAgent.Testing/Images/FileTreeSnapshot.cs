using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using KataAgent.Linux.Interop;

namespace KataAgent.Testing.Images;

/// <summary>
/// A directory tree as a path → <see cref="FileTreeEntry"/> map (relative paths, <c>.</c> for the root), walked
/// without following symlinks: what the image tests compare our unpack with umoci's by.
/// </summary>
public sealed class FileTreeSnapshot
{
    private FileTreeSnapshot(SortedDictionary<string, FileTreeEntry> entries) => Entries = entries;

    /// <summary>Every path, sorted ordinally.</summary>
    public SortedDictionary<string, FileTreeEntry> Entries { get; }

    /// <summary>Walks <paramref name="root"/>.</summary>
    public static FileTreeSnapshot Take(string root)
    {
        var entries = new SortedDictionary<string, FileTreeEntry>(StringComparer.Ordinal);
        var inodes = new Dictionary<ulong, List<string>>();
        var raw = new Dictionary<string, (FileTreeEntry Entry, ulong Inode)>(StringComparer.Ordinal);
        Walk(root, ".", raw);
        foreach (var (path, (entry, inode)) in raw)
        {
            if (entry.Type == "file")
            {
                if (!inodes.TryGetValue(inode, out var list))
                    inodes[inode] = list = [];
                list.Add(path);
            }
        }
        foreach (var (path, (entry, inode)) in raw)
        {
            string links = entry.Type == "file"
                ? string.Join(',', inodes[inode].Where(p => p != path).Order(StringComparer.Ordinal))
                : "";
            entries[path] = entry with { HardLinks = links };
        }
        return new FileTreeSnapshot(entries);
    }

    /// <summary>
    /// The differences from <paramref name="expected"/>, one line each; paths in <paramref name="ignore"/> are left
    /// out; <paramref name="ignoreDirectoryMtimes"/> leaves out directories' mtimes.
    /// </summary>
    public List<string> Diff(FileTreeSnapshot expected, IReadOnlySet<string>? ignore = null, bool ignoreDirectoryMtimes = false)
    {
        var diffs = new List<string>();
        foreach (var (path, want) in expected.Entries)
        {
            if (ignore?.Contains(path) == true)
                continue;
            if (!Entries.TryGetValue(path, out var got))
            {
                diffs.Add($"missing {path}: {want}");
                continue;
            }
            var a = ignoreDirectoryMtimes && want.Type == "dir" ? got with { MtimeSeconds = 0 } : got;
            var b = ignoreDirectoryMtimes && want.Type == "dir" ? want with { MtimeSeconds = 0 } : want;
            if (a != b)
                diffs.Add($"differs {path}: got {got}, expected {want}");
        }
        foreach (var (path, got) in Entries)
        {
            if (ignore?.Contains(path) != true && !expected.Entries.ContainsKey(path))
                diffs.Add($"extra {path}: {got}");
        }
        return diffs;
    }

    private static unsafe void Walk(string root, string relative, Dictionary<string, (FileTreeEntry, ulong)> raw)
    {
        string full = relative == "." ? root : Path.Combine(root, relative);
        Libc.Statx statx;
        Libc.Check(Libc.StatX(Libc.AT_FDCWD, full, Libc.AT_SYMLINK_NOFOLLOW,
            Libc.STATX_TYPE | Libc.STATX_MODE | Libc.STATX_UID | Libc.STATX_GID | Libc.STATX_MTIME | Libc.STATX_INO | Libc.STATX_SIZE, &statx), $"statx {full}");
        int format = statx.Mode & Libc.S_IFMT;
        string type = format switch
        {
            Libc.S_IFREG => "file",
            Libc.S_IFDIR => "dir",
            Libc.S_IFLNK => "symlink",
            Libc.S_IFCHR => "char",
            Libc.S_IFBLK => "block",
            Libc.S_IFIFO => "fifo",
            _ => "socket",
        };
        string content = type switch
        {
            "file" => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(full))),
            "symlink" => "-> " + new FileInfo(full).LinkTarget,
            "char" or "block" => $"{statx.RdevMajor}:{statx.RdevMinor}",
            _ => "",
        };
        var entry = new FileTreeEntry(type, statx.Mode & 0xFFF, statx.Uid, statx.Gid, type == "file" ? (long)statx.Size : 0,
            content, Xattrs(full), type == "symlink" ? 0 : statx.MtimeSeconds, "");
        raw[relative] = (entry, statx.Inode);
        if (type == "dir")
        {
            foreach (string child in Directory.EnumerateFileSystemEntries(full))
            {
                string name = Path.GetFileName(child);
                Walk(root, relative == "." ? name : relative + "/" + name, raw);
            }
        }
    }

    private static unsafe string Xattrs(string path)
    {
        nint size = Libc.Llistxattr(path, null, 0);
        if (size <= 0)
            return "";
        byte[] list = new byte[size];
        fixed (byte* p = list)
            size = Libc.Check(Libc.Llistxattr(path, p, (nuint)list.Length), $"llistxattr {path}");
        var pairs = new List<string>();
        foreach (string name in Encoding.UTF8.GetString(list, 0, (int)size).Split('\0', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal))
        {
            byte[] value = new byte[65536];
            nint length;
            fixed (byte* p = value)
                length = Libc.Lgetxattr(path, name, p, (nuint)value.Length);
            if (length < 0)
                throw new IOException($"lgetxattr {name} on {path}: errno {Marshal.GetLastPInvokeError()}");
            pairs.Add($"{name}={Convert.ToHexStringLower(value.AsSpan(0, (int)length))}");
        }
        return string.Join(',', pairs);
    }
}
