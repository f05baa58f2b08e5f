using KataAgent.Linux.Interop;

namespace KataAgent.Host.Transport;

/// <summary>What sits at a path where one of our listening unix sockets goes.</summary>
internal static unsafe class SocketFile
{
    /// <summary>Whether <paramref name="path"/> itself (a symlink is not followed) is a unix socket.</summary>
    public static bool IsSocket(string path)
    {
        Libc.Statx result;
        return Libc.StatX(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE, &result) == 0
            && (result.Mode & Libc.S_IFMT) == Libc.S_IFSOCK;
    }
}
