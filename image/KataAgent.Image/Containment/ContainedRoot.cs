using System.Runtime.InteropServices;
using System.Text;
using KataAgent.Linux.Interop;

namespace KataAgent.Image.Containment;

/// <summary>
/// A directory that paths are resolved inside of, never outside: an O_PATH fd of the root, and relative paths
/// resolved from it component by component. Two kinds of resolution: <see cref="OpenDirectory"/> follows no symlink
/// at all (what a layer entry's parents must be), <see cref="OpenInRoot"/> follows symlinks as if the root were
/// <c>/</c> (what a process in the container would read). openat2(2) does either in one call where the kernel has it
/// (5.6+); elsewhere a walk with O_NOFOLLOW per component does the same.
/// </summary>
internal sealed unsafe class ContainedRoot : IDisposable
{
    private const int MaxSymlinks = 40;
    private const int PathFlags = Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;

    private readonly SafeFileDescriptor _root;
    private bool _openat2;

    /// <summary>Opens <paramref name="path"/> (trusted: it may itself go through symlinks) as the root.</summary>
    /// <param name="path">An existing directory.</param>
    /// <param name="useOpenat2">False forces the per-component walk (the tests cover both).</param>
    public ContainedRoot(string path, bool useOpenat2 = true)
    {
        Path = path;
        _root = SafeFileDescriptor.Check(Libc.Open(path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC), $"open {path}");
        _openat2 = useOpenat2;
    }

    /// <summary>The root's path as given.</summary>
    public string Path { get; }

    /// <summary>The root's O_PATH fd.</summary>
    public SafeFileDescriptor Handle => _root;

    /// <summary>True while openat2 is used (false once the kernel answered ENOSYS).</summary>
    public bool UsesOpenat2 => _openat2;

    /// <summary>
    /// An O_PATH fd of the directory at <paramref name="components"/> (relative to the root; none is the root
    /// itself), following no symlink: a symlink among them is <see cref="ImageErrorKind.PathEscape"/>, a
    /// non-directory <see cref="ImageErrorKind.InvalidInput"/>. Missing directories are created (mode 0755, owned
    /// by the caller) when <paramref name="create"/>, else the result is null. With
    /// <paramref name="lenient"/>, a symlink or non-directory on the way is null too (what a whiteout under a
    /// replaced directory needs: nothing there to hide, and nothing followed to look).
    /// </summary>
    public SafeFileDescriptor? OpenDirectory(ReadOnlySpan<string> components, bool create, bool lenient = false)
    {
        if (components.IsEmpty)
            return Duplicate(_root);
        if (_openat2)
        {
            string joined = string.Join('/', components.ToArray());
            int fd = Libc.OpenAt2((int)_root.DangerousGetHandle(), joined, (ulong)PathFlags,
                Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS);
            if (fd >= 0)
                return new SafeFileDescriptor(fd);
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOSYS)
                _openat2 = false;
            else if ((errno == Errno.ENOENT && !create) || (lenient && errno is Errno.ELOOP or Errno.ENOTDIR))
                return null;
            // ENOENT with create, ELOOP, ENOTDIR, EXDEV: the walk creates, or names the component at fault.
        }
        return Walk(components, create, lenient);
    }

    private SafeFileDescriptor? Walk(ReadOnlySpan<string> components, bool create, bool lenient)
    {
        var current = Duplicate(_root);
        try
        {
            for (int i = 0; i < components.Length; i++)
            {
                string name = components[i];
                int fd = Libc.OpenAt((int)current.DangerousGetHandle(), name, PathFlags, 0);
                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    string sofar = string.Join('/', components[..(i + 1)].ToArray());
                    if (errno == Errno.ENOENT)
                    {
                        if (!create)
                        {
                            current.Dispose();
                            return null;
                        }
                        if (Libc.MkdirAt((int)current.DangerousGetHandle(), name, 0x1ED) != 0
                            && Marshal.GetLastPInvokeError() != Errno.EEXIST)
                            throw LinuxException.FromLastError($"mkdir {sofar}");
                        i--;
                        continue;
                    }
                    if (errno is Errno.ENOTDIR or Errno.ELOOP)
                    {
                        if (lenient)
                        {
                            current.Dispose();
                            return null;
                        }
                        int type = FileType(current, name);
                        if (type == Libc.S_IFLNK)
                            throw new ImageException(ImageErrorKind.PathEscape, $"'{sofar}' is a symlink; nothing is created through one");
                        throw new ImageException(ImageErrorKind.InvalidInput, $"'{sofar}' is not a directory");
                    }
                    throw new LinuxException($"open {sofar}", errno);
                }
                current.Dispose();
                current = new SafeFileDescriptor(fd);
            }
            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> with <paramref name="flags"/>, following symlinks as a process chrooted into
    /// the root would (<c>..</c> at the root stays there, absolute targets start from it); null when it does not
    /// exist. Magic links (/proc) are not followed.
    /// </summary>
    public SafeFileDescriptor? OpenInRoot(string path, int flags)
    {
        if (_openat2)
        {
            int fd = Libc.OpenAt2((int)_root.DangerousGetHandle(), path, (ulong)(flags | Libc.O_CLOEXEC),
                Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
            if (fd >= 0)
                return new SafeFileDescriptor(fd);
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOENT)
                return null;
            if (errno != Errno.ENOSYS)
                throw new LinuxException($"open {path} in {Path}", errno);
            _openat2 = false;
        }
        return WalkInRoot(path, flags);
    }

    private SafeFileDescriptor? WalkInRoot(string path, int flags)
    {
        var pending = new LinkedList<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var ancestors = new Stack<SafeFileDescriptor>();
        var current = Duplicate(_root);
        int symlinks = 0;
        try
        {
            while (pending.First is { } first)
            {
                string name = first.Value;
                pending.RemoveFirst();
                if (name == ".")
                    continue;
                if (name == "..")
                {
                    if (ancestors.Count > 0)
                    {
                        current.Dispose();
                        current = ancestors.Pop();
                    }
                    continue;
                }
                int type = FileType(current, name);
                if (type == 0)
                    return null;
                if (type == Libc.S_IFLNK)
                {
                    if (++symlinks > MaxSymlinks)
                        throw new LinuxException($"open {path} in {Path}", Errno.ELOOP);
                    string target = ReadLink(current, name);
                    var parts = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
                    for (int i = parts.Length - 1; i >= 0; i--)
                        pending.AddFirst(parts[i]);
                    if (target.StartsWith('/'))
                    {
                        while (ancestors.Count > 0)
                        {
                            current.Dispose();
                            current = ancestors.Pop();
                        }
                    }
                    continue;
                }
                bool last = pending.Count == 0;
                int openFlags = last ? flags | Libc.O_NOFOLLOW | Libc.O_CLOEXEC : PathFlags;
                int fd = Libc.OpenAt((int)current.DangerousGetHandle(), name, openFlags, 0);
                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.ENOENT)
                        return null;
                    throw new LinuxException($"open {path} in {Path}", errno);
                }
                if (last)
                    return new SafeFileDescriptor(fd);
                ancestors.Push(current);
                current = new SafeFileDescriptor(fd);
            }
            // The path named the root (or a directory reached through ".."): open it as asked.
            return SafeFileDescriptor.Check(Libc.OpenAt((int)current.DangerousGetHandle(), ".", flags | Libc.O_CLOEXEC, 0), $"open {path} in {Path}");
        }
        finally
        {
            current.Dispose();
            while (ancestors.Count > 0)
                ancestors.Pop().Dispose();
        }
    }

    /// <summary>The S_IFMT bits of <paramref name="name"/> in the directory (not following it), 0 when absent.</summary>
    public static int FileType(SafeFileDescriptor directory, string name)
    {
        Libc.Statx statx;
        if (Libc.StatX((int)directory.DangerousGetHandle(), name, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE, &statx) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOENT)
                return 0;
            throw new LinuxException($"stat {name}", errno);
        }
        return statx.Mode & Libc.S_IFMT;
    }

    /// <summary>The target of the symlink <paramref name="name"/> in the directory.</summary>
    public static string ReadLink(SafeFileDescriptor directory, string name)
    {
        byte* buffer = stackalloc byte[4097];
        nint length = Libc.Check(Libc.ReadlinkAt((int)directory.DangerousGetHandle(), name, buffer, 4097), $"readlink {name}");
        if (length > 4096)
            throw new LinuxException($"readlink {name}", Errno.ERANGE);
        return Encoding.UTF8.GetString(buffer, (int)length);
    }

    /// <summary>The names in the directory <paramref name="directory"/> (an fd opened for reading), without . and ..</summary>
    public static List<string> ListDirectory(SafeFileDescriptor directory)
    {
        int fd = Libc.Check(Libc.Fcntl((int)directory.DangerousGetHandle(), Libc.F_DUPFD_CLOEXEC, 0), "dup");
        nint dir = Libc.Fdopendir(fd);
        if (dir == 0)
        {
            var error = LinuxException.FromLastError("fdopendir");
            Libc.Close(fd);
            throw error;
        }
        var names = new List<string>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                nint entry = Libc.Readdir(dir);
                if (entry == 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 0)
                        throw new LinuxException("readdir", errno);
                    return names;
                }
                string name = Marshal.PtrToStringUTF8(entry + Libc.DirentNameOffset)!;
                if (name is not ("." or ".."))
                    names.Add(name);
            }
        }
        finally
        {
            Libc.Closedir(dir);
        }
    }

    /// <summary>
    /// Removes <paramref name="name"/> from the directory, and everything below it when it is a directory; symlinks
    /// are removed, never followed. Absent is no error.
    /// </summary>
    public static void RemoveTree(SafeFileDescriptor directory, string name)
    {
        int type = FileType(directory, name);
        if (type == 0)
            return;
        if (type == Libc.S_IFDIR)
        {
            using (var child = SafeFileDescriptor.Check(
                Libc.OpenAt((int)directory.DangerousGetHandle(), name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0),
                $"open {name}"))
            {
                foreach (string entry in ListDirectory(child))
                    RemoveTree(child, entry);
            }
            Libc.Check(Libc.UnlinkAt((int)directory.DangerousGetHandle(), name, Libc.AT_REMOVEDIR), $"rmdir {name}");
            return;
        }
        if (Libc.UnlinkAt((int)directory.DangerousGetHandle(), name, 0) != 0 && Marshal.GetLastPInvokeError() != Errno.ENOENT)
            throw LinuxException.FromLastError($"unlink {name}");
    }

    /// <summary>Removes the directory at <paramref name="path"/> and everything in it, following no symlink inside it.</summary>
    public static void RemoveDirectory(string path)
    {
        string full = System.IO.Path.GetFullPath(path).TrimEnd('/');
        string? parent = System.IO.Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(parent))
            throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        using var parentFd = new SafeFileDescriptor(Libc.Open(parent, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC));
        if (parentFd.IsInvalid)
        {
            if (Marshal.GetLastPInvokeError() == Errno.ENOENT)
                return;
            throw LinuxException.FromLastError($"open {parent}");
        }
        RemoveTree(parentFd, System.IO.Path.GetFileName(full));
    }

    private static SafeFileDescriptor Duplicate(SafeFileDescriptor fd) =>
        SafeFileDescriptor.Check(Libc.Fcntl((int)fd.DangerousGetHandle(), Libc.F_DUPFD_CLOEXEC, 0), "dup");

    /// <inheritdoc/>
    public void Dispose() => _root.Dispose();
}
