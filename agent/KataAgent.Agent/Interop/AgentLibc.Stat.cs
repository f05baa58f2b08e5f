using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Interop;

internal static unsafe partial class AgentLibc
{
    /// <summary>The S_IFMT bits of <paramref name="path"/> (not following a final symlink), or null if it does not exist.</summary>
    public static int? FileType(string path)
    {
        Libc.Statx result;
        if (Libc.StatX(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE, &result) != 0)
        {
            var error = LinuxException.FromLastError($"statx {path}");
            return error.Errno == Errno.ENOENT ? null : throw error;
        }
        return result.Mode & Libc.S_IFMT;
    }

    /// <summary>The type bits, link count and size of the file <paramref name="fd"/> is open on.</summary>
    public static (int Type, uint Links, long Size) FStat(int fd, string operation)
    {
        Libc.Statx result;
        Libc.Check(Libc.StatX(fd, "", Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_NLINK | Libc.STATX_SIZE, &result), operation);
        return (result.Mode & Libc.S_IFMT, result.Nlink, (long)result.Size);
    }
}
