using System.Buffers;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Image.Containment;
using KataAgent.Linux.Interop;
using Microsoft.Win32.SafeHandles;

namespace KataAgent.Image.Layers;

/// <summary>
/// One layer's application: what it created so far (whiteouts and opaque directories spare it), and the
/// directory mtimes set once the layer's entries are all written (creating children changes them).
/// </summary>
internal sealed class LayerApplyState(ContainedRoot root, string layer, List<string> warnings)
{
    private const int OpenDirectoryFlags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
    private const string WhiteoutPrefix = ".wh.";
    private const string MetaPrefix = ".wh..wh.";
    private const string Opaque = ".wh..wh..opq";

    private readonly HashSet<string> _created = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string[] Components, DateTimeOffset Time)> _directoryTimes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string[] Components, DateTimeOffset Time)> _restoredTimes = new(StringComparer.Ordinal);

    /// <summary>Applies one entry; errors do not name it (the caller adds the layer and the entry).</summary>
    public async Task ApplyAsync(TarEntry entry, List<KeyValuePair<string, byte[]>> xattrs, CancellationToken cancellationToken)
    {
        switch (entry.EntryType)
        {
            case TarEntryType.GlobalExtendedAttributes:
                return;
            case TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile
                or TarEntryType.SymbolicLink or TarEntryType.HardLink
                or TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                break;
            default:
                throw new ImageException(ImageErrorKind.Unsupported, $"tar entry type {entry.EntryType} is not supported in a layer");
        }
        if (entry.Uid < 0 || entry.Gid < 0)
            throw new ImageException(ImageErrorKind.InvalidInput, $"uid {entry.Uid} or gid {entry.Gid} is negative");

        string[] components = LayerEntryPath.Split(entry.Name, "the name");
        if (components.Length == 0)
        {
            if (entry.EntryType != TarEntryType.Directory)
                throw new ImageException(ImageErrorKind.InvalidInput, $"the layer's root entry is a {entry.EntryType}, not a directory");
            ApplyRoot(entry, xattrs);
            return;
        }

        string leaf = components[^1];
        var parentComponents = components.AsSpan(0, components.Length - 1);
        if (leaf.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            Whiteout(entry, parentComponents, leaf);
            return;
        }

        string path = LayerEntryPath.Join(components);
        using var parent = root.OpenDirectory(parentComponents, create: true)!;
        KeepTime(parent, parentComponents);
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                CreateDirectory(parent, leaf, path, components, entry, xattrs);
                break;
            case TarEntryType.SymbolicLink:
                Replace(parent, leaf);
                if (string.IsNullOrEmpty(entry.LinkName))
                    throw new ImageException(ImageErrorKind.InvalidInput, "the symlink has an empty target");
                // Only a string: an absolute or dotted target is stored as it is and never followed here.
                Libc.Check(Libc.SymlinkAt(entry.LinkName, (int)parent.DangerousGetHandle(), leaf), $"symlink {path}");
                Libc.Check(Libc.FchownAt((int)parent.DangerousGetHandle(), leaf, (uint)entry.Uid, (uint)entry.Gid, Libc.AT_SYMLINK_NOFOLLOW), $"lchown {path}");
                if (xattrs.Count > 0)
                    warnings.Add($"{layer}: entry '{entry.Name}': xattrs on a symlink are not applied ({string.Join(", ", xattrs.Select(x => x.Key))})");
                SetTimes(parent, leaf, path, entry.ModificationTime);
                break;
            case TarEntryType.HardLink:
                CreateHardLink(parent, leaf, path, entry);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                CreateNode(parent, leaf, path, entry, xattrs);
                break;
            default:
                await CreateFileAsync(parent, leaf, path, entry, xattrs, cancellationToken).ConfigureAwait(false);
                break;
        }
        MarkCreated(components);
    }

    /// <summary>Sets the mtimes of the directories this layer wrote, now that their children are all there.</summary>
    public void Finish()
    {
        // Writing or deleting in a directory changes its mtime; as umoci does, a directory keeps the time it had
        // before the layer touched it, unless the layer has an entry for it (that entry's time wins). Writers omit
        // the entry of a directory whose mtime did not change to the second (umoci's repack does).
        foreach (var (path, value) in _restoredTimes)
            _directoryTimes.TryAdd(path, value);
        foreach (var (path, (components, time)) in _directoryTimes)
        {
            if (components.Length == 0)
            {
                using var self = SafeFileDescriptor.Check(
                    Libc.OpenAt((int)root.Handle.DangerousGetHandle(), ".", OpenDirectoryFlags, 0), "open the root");
                SetTimes(self, "the root", time);
                continue;
            }
            using var parent = root.OpenDirectory(components.AsSpan(0, components.Length - 1), create: false);
            if (parent is null || ContainedRoot.FileType(parent, components[^1]) != Libc.S_IFDIR)
                continue; // removed or replaced later in the layer
            SetTimes(parent, components[^1], path, time);
        }
    }

    private void ApplyRoot(TarEntry entry, List<KeyValuePair<string, byte[]>> xattrs)
    {
        using var self = SafeFileDescriptor.Check(
            Libc.OpenAt((int)root.Handle.DangerousGetHandle(), ".", OpenDirectoryFlags, 0), "open the root");
        ClearXattrs(self, entry.Name);
        ApplyOwnerModeXattrs(self, ".", entry, xattrs);
        _directoryTimes[""] = ([], entry.ModificationTime);
    }

    private void Whiteout(TarEntry entry, ReadOnlySpan<string> parentComponents, string leaf)
    {
        if (leaf == Opaque)
        {
            using var directory = root.OpenDirectory(parentComponents, create: false, lenient: true);
            if (directory is null)
                return; // nothing below to hide; the directory's own entry (umoci writes it after) creates it
            using var readable = SafeFileDescriptor.Check(
                Libc.OpenAt((int)directory.DangerousGetHandle(), ".", OpenDirectoryFlags, 0), "open the opaque directory");
            KeepTime(readable, parentComponents);
            HideLowerChildren(readable, LayerEntryPath.Join(parentComponents));
            return;
        }
        if (leaf.StartsWith(MetaPrefix, StringComparison.Ordinal))
        {
            // aufs' own bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no meaning outside aufs, as docker treats it.
            warnings.Add($"{layer}: entry '{entry.Name}': aufs metadata, ignored");
            return;
        }
        string target = leaf[WhiteoutPrefix.Length..];
        if (target.Length == 0)
            throw new ImageException(ImageErrorKind.InvalidInput, "a whiteout must name what it hides ('.wh.' alone names nothing)");
        if (target is "." or "..")
            throw new ImageException(ImageErrorKind.PathEscape, $"the whiteout names '{target}'");
        string[] hidden = [.. parentComponents, target];
        if (_created.Contains(LayerEntryPath.Join(hidden)))
            return; // a whiteout hides lower layers only; what this layer wrote stays
        // umoci writes whiteouts of a replaced directory's old children after the file that replaced it: a parent
        // that is no directory (or a symlink, never followed) has nothing below it to hide.
        using var parent = root.OpenDirectory(parentComponents, create: false, lenient: true);
        if (parent is null || ContainedRoot.FileType(parent, target) == 0)
            return;
        KeepTime(parent, parentComponents);
        ContainedRoot.RemoveTree(parent, target);
    }

    private unsafe void KeepTime(SafeFileDescriptor directory, ReadOnlySpan<string> components)
    {
        string path = LayerEntryPath.Join(components);
        if (_restoredTimes.ContainsKey(path))
            return;
        Libc.Statx statx;
        Libc.Check(Libc.StatX((int)directory.DangerousGetHandle(), "", Libc.AT_EMPTY_PATH, Libc.STATX_MTIME, &statx), $"stat {path}");
        var time = DateTimeOffset.UnixEpoch.AddTicks(statx.MtimeSeconds * TimeSpan.TicksPerSecond + statx.MtimeNanoseconds / 100);
        _restoredTimes[path] = (components.ToArray(), time);
    }

    // Opaque: every child not written by this layer goes; directories this layer wrote into are searched the same way.
    private void HideLowerChildren(SafeFileDescriptor directory, string prefix)
    {
        foreach (string name in ContainedRoot.ListDirectory(directory))
        {
            string path = prefix.Length == 0 ? name : prefix + "/" + name;
            if (!_created.Contains(path))
            {
                ContainedRoot.RemoveTree(directory, name);
            }
            else if (ContainedRoot.FileType(directory, name) == Libc.S_IFDIR)
            {
                using var child = SafeFileDescriptor.Check(
                    Libc.OpenAt((int)directory.DangerousGetHandle(), name, OpenDirectoryFlags, 0), $"open {path}");
                HideLowerChildren(child, path);
            }
        }
    }

    private void CreateDirectory(SafeFileDescriptor parent, string leaf, string path, string[] components, TarEntry entry, List<KeyValuePair<string, byte[]>> xattrs)
    {
        int type = ContainedRoot.FileType(parent, leaf);
        bool existed = type == Libc.S_IFDIR;
        if (!existed)
        {
            if (type != 0)
                ContainedRoot.RemoveTree(parent, leaf);
            Libc.Check(Libc.MkdirAt((int)parent.DangerousGetHandle(), leaf, 0x1C0), $"mkdir {path}");
        }
        using var self = SafeFileDescriptor.Check(
            Libc.OpenAt((int)parent.DangerousGetHandle(), leaf, OpenDirectoryFlags, 0), $"open {path}");
        if (existed)
            ClearXattrs(self, path); // a directory over a directory keeps its children and takes the entry's attributes
        ApplyOwnerModeXattrs(self, path, entry, xattrs);
        _directoryTimes[path] = (components, entry.ModificationTime);
    }

    private async Task CreateFileAsync(SafeFileDescriptor parent, string leaf, string path, TarEntry entry, List<KeyValuePair<string, byte[]>> xattrs, CancellationToken cancellationToken)
    {
        Replace(parent, leaf);
        int fd = Libc.Check(
            Libc.OpenAt((int)parent.DangerousGetHandle(), leaf, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180),
            $"create {path}");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (entry.DataStream is { } data)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 17);
            try
            {
                long offset = 0;
                int read;
                while ((read = await data.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    RandomAccess.Write(handle, buffer.AsSpan(0, read), offset);
                    offset += read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        using var self = new SafeFileDescriptor((int)handle.DangerousGetHandle(), ownsHandle: false);
        // Data first (a write clears setuid and file capabilities), then owner (chown clears them too), mode, xattrs, times.
        ApplyOwnerModeXattrs(self, path, entry, xattrs);
        SetTimes(self, path, entry.ModificationTime);
    }

    private void CreateHardLink(SafeFileDescriptor parent, string leaf, string path, TarEntry entry)
    {
        string[] target = LayerEntryPath.Split(entry.LinkName, $"its hardlink target '{entry.LinkName}'");
        if (target.Length == 0)
            throw new ImageException(ImageErrorKind.InvalidInput, "the hardlink names the root as its target");
        string targetPath = LayerEntryPath.Join(target);
        if (targetPath == path)
            throw new ImageException(ImageErrorKind.InvalidInput, "the hardlink names itself as its target");
        using var targetParent = root.OpenDirectory(target.AsSpan(0, target.Length - 1), create: false);
        int type = targetParent is null ? 0 : ContainedRoot.FileType(targetParent, target[^1]);
        if (type == 0)
            throw new ImageException(ImageErrorKind.InvalidInput, $"its hardlink target '{entry.LinkName}' is not in the rootfs");
        if (type == Libc.S_IFDIR)
            throw new ImageException(ImageErrorKind.InvalidInput, $"its hardlink target '{entry.LinkName}' is a directory");
        Replace(parent, leaf);
        // No AT_SYMLINK_FOLLOW: a symlink target is linked itself. The inode keeps its own metadata (the entry's
        // header repeats it at best, and some writers leave it zero).
        Libc.Check(Libc.LinkAt((int)targetParent!.DangerousGetHandle(), target[^1], (int)parent.DangerousGetHandle(), leaf, 0),
            $"link {path} to {targetPath}");
    }

    private unsafe void CreateNode(SafeFileDescriptor parent, string leaf, string path, TarEntry entry, List<KeyValuePair<string, byte[]>> xattrs)
    {
        Replace(parent, leaf);
        int type = entry.EntryType switch
        {
            TarEntryType.CharacterDevice => Libc.S_IFCHR,
            TarEntryType.BlockDevice => Libc.S_IFBLK,
            _ => Libc.S_IFIFO,
        };
        ulong device = 0;
        if (entry is PosixTarEntry posix && type != Libc.S_IFIFO)
            device = Libc.MakeDevice((uint)posix.DeviceMajor, (uint)posix.DeviceMinor);
        int dir = (int)parent.DangerousGetHandle();
        Libc.Check(Libc.MknodAt(dir, leaf, type | 0x180, device), $"mknod {path}");
        Libc.Check(Libc.FchownAt(dir, leaf, (uint)entry.Uid, (uint)entry.Gid, Libc.AT_SYMLINK_NOFOLLOW), $"lchown {path}");
        // The node was made just now and is no symlink, so fchmodat's following is harmless.
        Libc.Check(Libc.FchmodAt(dir, leaf, Mode(entry), 0), $"chmod {path}");
        if (xattrs.Count > 0)
        {
            // A device or fifo is not opened for its xattrs (that could block or reach a driver): an O_PATH fd
            // and its /proc/self/fd link name the node itself.
            using var node = SafeFileDescriptor.Check(Libc.OpenAt(dir, leaf, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0), $"open {path}");
            string procPath = $"/proc/self/fd/{(int)node.DangerousGetHandle()}";
            foreach (var (name, value) in xattrs)
            {
                fixed (byte* p = value)
                {
                    if (Libc.Setxattr(procPath, name, p, (nuint)value.Length, 0) != 0)
                        XattrRefused(path, name, Marshal.GetLastPInvokeError());
                }
            }
        }
        SetTimes(parent, leaf, path, entry.ModificationTime);
    }

    private unsafe void ApplyOwnerModeXattrs(SafeFileDescriptor self, string path, TarEntry entry, List<KeyValuePair<string, byte[]>> xattrs)
    {
        int fd = (int)self.DangerousGetHandle();
        // lchown before chmod: chown clears setuid/setgid, so the mode must come after it.
        Libc.Check(Libc.Fchown(fd, (uint)entry.Uid, (uint)entry.Gid), $"chown {path}");
        Libc.Check(Libc.Fchmod(fd, Mode(entry)), $"chmod {path}");
        foreach (var (name, value) in xattrs)
        {
            fixed (byte* p = value)
            {
                if (Libc.Fsetxattr(fd, name, p, (nuint)value.Length, 0) != 0)
                    XattrRefused(path, name, Marshal.GetLastPInvokeError());
            }
        }
    }

    private unsafe void ClearXattrs(SafeFileDescriptor self, string path)
    {
        int fd = (int)self.DangerousGetHandle();
        nint size = Libc.Flistxattr(fd, null, 0);
        if (size <= 0)
            return;
        byte[] list = new byte[size];
        fixed (byte* p = list)
        {
            size = Libc.Flistxattr(fd, p, (nuint)list.Length);
        }
        if (size <= 0)
            return;
        foreach (string name in Encoding.UTF8.GetString(list, 0, (int)size).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Libc.Fremovexattr(fd, name) != 0)
                warnings.Add($"{layer}: '{path}': the existing xattr {name} could not be removed: {Errno.Name(Marshal.GetLastPInvokeError())}");
        }
    }

    private void XattrRefused(string path, string name, int errno)
    {
        // What the filesystem (or our privileges) does not allow is reported and skipped, as umoci and image-rs do;
        // anything else (ENOSPC, EIO) is a failure of the unpack.
        if (errno is Errno.EOPNOTSUPP or Errno.EPERM or Errno.EACCES or Errno.EINVAL or Errno.ENOENT)
            warnings.Add($"{layer}: '{path}': xattr {name} not applied: {Errno.Name(errno)}");
        else
            throw new LinuxException($"setxattr {name} on {path}", errno);
    }

    private static void Replace(SafeFileDescriptor parent, string leaf)
    {
        if (ContainedRoot.FileType(parent, leaf) != 0)
            ContainedRoot.RemoveTree(parent, leaf);
    }

    private static unsafe void SetTimes(SafeFileDescriptor self, string path, DateTimeOffset time)
    {
        var times = Times(time);
        Libc.Check(Libc.Futimens((int)self.DangerousGetHandle(), (Libc.Timespec*)&times), $"set the times of {path}");
    }

    private static unsafe void SetTimes(SafeFileDescriptor parent, string leaf, string path, DateTimeOffset time)
    {
        var times = Times(time);
        Libc.Check(Libc.UtimensAt((int)parent.DangerousGetHandle(), leaf, (Libc.Timespec*)&times, Libc.AT_SYMLINK_NOFOLLOW),
            $"set the times of {path}");
    }

    private void MarkCreated(string[] components)
    {
        for (int i = 1; i <= components.Length; i++)
            _created.Add(LayerEntryPath.Join(components.AsSpan(0, i)));
    }

    private static int Mode(TarEntry entry) => (int)entry.Mode & 0xFFF;

    // atime = mtime: the layer's atimes are the writer's accident, and umoci does the same when PAX has none.
    private static TimePair Times(DateTimeOffset time)
    {
        long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0)
        {
            seconds--;
            rest += TimeSpan.TicksPerSecond;
        }
        var spec = new Libc.Timespec { Seconds = seconds, Nanoseconds = rest * 100 };
        return new TimePair { Access = spec, Modify = spec };
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimePair
    {
        public Libc.Timespec Access;
        public Libc.Timespec Modify;
    }
}
