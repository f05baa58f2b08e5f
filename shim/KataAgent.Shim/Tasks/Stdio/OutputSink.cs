using KataAgent.Linux.Interop;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>
/// Where one output stream of a process goes: the client's FIFO, opened read-write as runc's shim holds an extra reader,
/// so that the open never blocks and a client that goes away (containerd restarting) never turns a write into EPIPE
/// (a reopened FIFO gets what was buffered); or a file, appended to. Writes block until the whole buffer is in.
/// </summary>
internal sealed unsafe class OutputSink : IDisposable
{
    private readonly int _fd;
    private readonly string _path;
    private bool _broken;
    private int _closed;

    private OutputSink(int fd, string path)
    {
        _fd = fd;
        _path = path;
    }

    /// <summary>Opens <paramref name="target"/>; null for <see cref="StdioKind.None"/>.</summary>
    /// <exception cref="TaskException">The FIFO or file cannot be opened (InvalidArgument naming <paramref name="field"/>).</exception>
    public static OutputSink? Open(StdioTarget target, string field)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Kind == StdioKind.Binary)
        {
            throw new InvalidOperationException("a logging binary's sinks come from BinaryLogger");
        }
        int flags = target.Kind switch
        {
            StdioKind.None => -1,
            StdioKind.Fifo => Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NOCTTY,
            _ => Libc.O_WRONLY | Libc.O_CLOEXEC | Libc.O_NOCTTY | OAppend | OCreat,
        };
        if (flags == -1)
        {
            return null;
        }
        int fd = Libc.Open(target.Path, flags, 0b110_100_000);
        if (fd < 0)
        {
            var error = LinuxException.FromLastError($"open {target.Path}");
            throw new TaskException(TaskErrorKind.InvalidArgument, $"{field}: {error.Message}", error);
        }
        return new OutputSink(fd, target.Path);
    }

    /// <summary>A sink on the write end of a pipe (a logging binary's fd 3 or 4); the sink owns <paramref name="fd"/>.</summary>
    public static OutputSink ForPipe(int fd, string description) => new(fd, description);

    private const int OCreat = 0x40;
    private const int OAppend = 0x400;

    /// <summary>False once a write failed; what comes after is dropped so that the process is never held up.</summary>
    public bool Healthy => !_broken;

    /// <summary>Writes all of <paramref name="data"/>; a failure marks the sink broken (logged once) rather than throwing.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_broken)
        {
            nint written;
            fixed (byte* p = data)
            {
                written = Libc.Write(_fd, p, (nuint)data.Length);
            }
            if (written >= 0)
            {
                data = data[(int)written..];
                continue;
            }
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }
            _broken = true;
            ShimLog.Warn($"output to {_path} failed ({Errno.Name(errno)}); the rest of it is dropped");
        }
    }

    /// <summary>Closes the sink: the client reads the end of the stream once it has read what is buffered.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            Libc.Close(_fd);
        }
    }
}
