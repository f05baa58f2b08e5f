using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Daemon;

/// <summary>
/// The bundle's <c>log</c> FIFO, made stdout and stderr of the daemon (containerd's <c>openLog</c> dup2s it onto
/// stderr). containerd holds its read end open before it runs <c>start</c>, so the open does not wait; without a
/// reader (a shim run by hand, <c>ctr shim</c> tests) the open fails at once and the daemon keeps its
/// <c>/dev/null</c>.
/// </summary>
internal static class LogFifo
{
    /// <summary>Points fds 1 and 2 at <c>&lt;bundle&gt;/log</c>; false when there is no FIFO with a reader.</summary>
    public static bool Attach(string bundle)
    {
        string path = Path.Combine(bundle, "log");
        // O_NONBLOCK: an open for writing of a FIFO nobody reads fails with ENXIO instead of waiting for ever.
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        try
        {
            // Writes block again once open: a busy containerd slows the log down rather than losing lines.
            int flags = ShimLibc.Check(Libc.Fcntl(fd, Libc.F_GETFL, 0), $"fcntl(F_GETFL) {path}");
            ShimLibc.Check(Libc.Fcntl(fd, Libc.F_SETFL, flags & ~Libc.O_NONBLOCK), $"fcntl(F_SETFL) {path}");
            ShimLibc.Check(Libc.Dup2(fd, 1), $"dup2 {path}");
            ShimLibc.Check(Libc.Dup2(fd, 2), $"dup2 {path}");
            return true;
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
