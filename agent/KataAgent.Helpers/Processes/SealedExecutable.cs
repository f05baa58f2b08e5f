using KataAgent.Linux.Interop;

namespace KataAgent.Helpers.Processes;

/// <summary>
/// A program copied into a memfd sealed against every change (F_SEAL_WRITE, SHRINK, GROW, SEAL) and started from
/// there. runc's CVE-2019-5736: a container process that reaches a helper's /proc/PID/exe while the helper runs in the
/// container's namespaces can reopen it for write once it has exited, and replace the binary the next container start
/// runs as root. The agent's own binary was safe (it always runs, so ETXTBSY), a separate helper on disk is not; a
/// sealed memfd cannot be written, truncated or grown by anyone, ever. The memfd lives as long as this object.
/// </summary>
internal sealed unsafe class SealedExecutable : IDisposable
{
    /// <summary>The seals every copy carries.</summary>
    public const int Seals = Libc.F_SEAL_SEAL | Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_WRITE;

    private readonly SafeFileDescriptor _fd;

    private SealedExecutable(SafeFileDescriptor fd, string path, long size)
    {
        _fd = fd;
        ExecutablePath = path;
        Size = size;
    }

    /// <summary>
    /// The path to start it by: <c>/proc/PID/fd/N</c> of this process, with PID as the mounted /proc numbers it. Not
    /// /proc/self: posix_spawn's child closes every fd it does not pass on before it calls execve.
    /// </summary>
    public string ExecutablePath { get; }

    /// <summary>The memfd (close-on-exec).</summary>
    public int Fd => (int)_fd.DangerousGetHandle();

    /// <summary>Its size in bytes.</summary>
    public long Size { get; }

    /// <summary>Copies <paramref name="path"/> into a sealed memfd named <paramref name="name"/>.</summary>
    /// <exception cref="FileNotFoundException"><paramref name="path"/> does not exist.</exception>
    /// <exception cref="LinuxException">A step of the copy failed.</exception>
    public static SealedExecutable Load(string path, string name)
    {
        int source = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (source < 0)
        {
            var error = LinuxException.FromLastError($"open {path}");
            throw error.Errno == Errno.ENOENT ? new FileNotFoundException($"{path} does not exist", path) : error;
        }
        int memfd = -1;
        try
        {
            memfd = Libc.MemfdCreate(name, Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING | Libc.MFD_EXEC);
            if (memfd < 0 && LinuxException.FromLastError("memfd_create").Errno == Errno.EINVAL)
            {
                // Before Linux 6.3 there is no MFD_EXEC, and every memfd may be executed.
                memfd = Libc.MemfdCreate(name, Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
            }
            Libc.Check(memfd, $"memfd_create for {path}");
            long size = 0;
            while (true)
            {
                // The kernel copies: the agent's heap never holds the binary.
                nint n = Libc.SendFile(memfd, source, null, 1 << 20);
                if (n < 0)
                {
                    var error = LinuxException.FromLastError($"copy {path} into a memfd");
                    if (error.Errno == Errno.EINTR)
                    {
                        continue;
                    }
                    throw error;
                }
                if (n == 0)
                {
                    break;
                }
                size += n;
            }
            Libc.Check(Libc.Fcntl(memfd, Libc.F_ADD_SEALS, Seals), $"seal the memfd copy of {path}");
            var sealedCopy = new SealedExecutable(new SafeFileDescriptor(memfd), $"/proc/{ProcSelf()}/fd/{memfd}", size);
            memfd = -1;
            return sealedCopy;
        }
        finally
        {
            if (memfd >= 0)
            {
                Libc.Close(memfd);
            }
            Libc.Close(source);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _fd.Dispose();

    /// <summary>This process's pid as the mounted /proc numbers it (it differs from getpid when /proc belongs to another PID namespace).</summary>
    private static string ProcSelf() =>
        new FileInfo("/proc/self").LinkTarget ?? throw new IOException("/proc/self is not a link: is /proc mounted?");
}
