using System.Text;
using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Containers.Init;

/// <summary>
/// Resolves a path inside a root the way the container will see it: symlinks, absolute or
/// relative, are followed with the root as "/", and ".." never climbs above it. Mount
/// destinations go through this, so a rootfs holding "etc -> /" cannot make a mount land on the
/// host's /etc.
/// </summary>
internal static class SecurePath
{
    private const int MaxSymlinks = 40;

    public static string Join(string root, string unsafePath)
    {
        var resolved = new List<string>();
        var pending = new Stack<string>(Split(unsafePath).Reverse());
        int links = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }
                continue;
            }
            string candidate = Path.Combine(root, string.Join('/', resolved.Append(part)));
            int? type = Libc.FileType(candidate);
            if (type == Libc.S_IFLNK)
            {
                if (++links > MaxSymlinks)
                {
                    throw new InitException($"{unsafePath}: too many levels of symbolic links inside the rootfs");
                }
                string target = new FileInfo(candidate).LinkTarget ?? "";
                if (target.StartsWith('/'))
                {
                    resolved.Clear();
                }
                foreach (string next in Split(target).Reverse())
                {
                    pending.Push(next);
                }
                continue;
            }
            resolved.Add(part);
        }
        return resolved.Count == 0 ? root : Path.Combine(root, string.Join('/', resolved));
    }

    /// <summary>
    /// As <see cref="Join"/> for the directory, keeping the last component as it is: for creating
    /// a link or device node, where an existing symlink of that name must not be followed.
    /// </summary>
    public static string JoinParent(string root, string unsafePath)
    {
        string trimmed = unsafePath.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        string name = trimmed[(slash + 1)..];
        if (name is "" or "." or "..")
        {
            throw new InitException($"{unsafePath}: does not name a file");
        }
        return Path.Combine(Join(root, slash <= 0 ? "/" : trimmed[..slash]), name);
    }

    private static string[] Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
