using System.Text;
using KataAgent.Image.Containment;
using KataAgent.Linux.Interop;
using Microsoft.Win32.SafeHandles;

namespace KataAgent.Image.Config;

/// <summary>
/// An unpacked rootfs's /etc/passwd and /etc/group, opened inside the rootfs (symlinks resolved as the container
/// would see them, never to the host's files) and parsed as glibc's files backend does: <c>#</c> comments, blank
/// and malformed lines (and NIS <c>+</c>/<c>-</c> lines) skipped, the first match wins.
/// </summary>
internal sealed class ImageUserDatabase
{
    private const long MaxFileBytes = 16 << 20;

    private ImageUserDatabase(IReadOnlyList<PasswdEntry>? users, IReadOnlyList<GroupEntry>? groups)
    {
        Users = users;
        Groups = groups;
    }

    /// <summary>The users, or null when the rootfs has no /etc/passwd.</summary>
    public IReadOnlyList<PasswdEntry>? Users { get; }

    /// <summary>The groups, or null when the rootfs has no /etc/group.</summary>
    public IReadOnlyList<GroupEntry>? Groups { get; }

    /// <summary>Reads both files from <paramref name="rootfsDirectory"/>.</summary>
    public static ImageUserDatabase Read(string rootfsDirectory)
    {
        if (!Directory.Exists(rootfsDirectory))
            throw new ImageException(ImageErrorKind.InvalidInput, $"the rootfs directory '{rootfsDirectory}' does not exist");
        using var root = new ContainedRoot(rootfsDirectory);
        return new ImageUserDatabase(
            ReadLines(root, "etc/passwd")?.Select(ParsePasswd).OfType<PasswdEntry>().ToList(),
            ReadLines(root, "etc/group")?.Select(ParseGroup).OfType<GroupEntry>().ToList());
    }

    private static string[]? ReadLines(ContainedRoot root, string path)
    {
        SafeFileDescriptor? fd;
        try
        {
            // O_NONBLOCK: a fifo planted at the path must not hang the caller; it is refused below.
            fd = root.OpenInRoot(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY);
        }
        catch (LinuxException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"the image's /{path} cannot be opened: {e.Message}", e);
        }
        if (fd is null)
            return null;
        using (fd)
        {
            using var handle = new SafeFileHandle(fd.Detach(), ownsHandle: true);
            if (!IsRegularFile(handle))
                throw new ImageException(ImageErrorKind.InvalidInput, $"the image's /{path} is not a regular file");
            long length = RandomAccess.GetLength(handle);
            if (length > MaxFileBytes)
                throw new ImageException(ImageErrorKind.InvalidInput, $"the image's /{path} is {length} bytes; more than {MaxFileBytes} is not a user database");
            byte[] bytes = new byte[length];
            int total = 0;
            while (total < bytes.Length)
            {
                int n = RandomAccess.Read(handle, bytes.AsSpan(total), total);
                if (n == 0)
                    break;
                total += n;
            }
            return Encoding.UTF8.GetString(bytes, 0, total).Split('\n');
        }
    }

    private static unsafe bool IsRegularFile(SafeFileHandle handle)
    {
        Libc.Statx statx;
        Libc.Check(Libc.StatX((int)handle.DangerousGetHandle(), "", Libc.AT_EMPTY_PATH, Libc.STATX_TYPE, &statx), "fstat");
        return (statx.Mode & Libc.S_IFMT) == Libc.S_IFREG;
    }

    private static PasswdEntry? ParsePasswd(string line)
    {
        var fields = Fields(line, 7);
        if (fields is null || !uint.TryParse(fields[2], out uint uid) || !uint.TryParse(fields[3], out uint gid))
            return null;
        return new PasswdEntry(fields[0], uid, gid);
    }

    private static GroupEntry? ParseGroup(string line)
    {
        var fields = Fields(line, 4);
        if (fields is null || !uint.TryParse(fields[2], out uint gid))
            return null;
        var members = fields[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new GroupEntry(fields[0], gid, members);
    }

    private static string[]? Fields(string line, int count)
    {
        line = line.TrimEnd('\r');
        if (line.Length == 0 || line[0] is '#' or '+' or '-')
            return null;
        var fields = line.Split(':');
        if (fields.Length < count || fields[0].Length == 0)
            return null;
        return fields;
    }
}
