using KataAgent.Linux.Interop;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>
/// Copies the client's stdin FIFO into a process, on a thread of its own. The FIFO is opened without blocking (the
/// client may open its end later, or never); it is polled, so that a FIFO whose writer never came is not taken for an
/// ended one (Linux reports no hang-up before a first writer). The end of the FIFO ends the copy but does not close the
/// process's stdin: CloseIO does (<see cref="RequestClose"/>), after what the client wrote before it has gone in.
/// </summary>
internal sealed unsafe class StdinPump
{
    private const int PollMilliseconds = 100;
    private const int BufferSize = 32 * 1024;

    private readonly int _fd;
    private readonly string _path;
    private readonly Func<ReadOnlyMemory<byte>, Task> _write;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _closeRequested;
    private volatile bool _stopped;

    private StdinPump(int fd, string path, Func<ReadOnlyMemory<byte>, Task> write)
    {
        _fd = fd;
        _path = path;
        _write = write;
        var thread = new Thread(Run) { IsBackground = true, Name = "stdin " + System.IO.Path.GetFileName(path) };
        thread.Start();
    }

    /// <summary>Completes when the copy has ended (end of the FIFO, <see cref="RequestClose"/> drained it, <see cref="Stop"/>, or the process refused input).</summary>
    public Task Completion => _completion.Task;

    /// <summary>Starts copying the FIFO at <paramref name="path"/> into <paramref name="write"/>.</summary>
    /// <exception cref="TaskException">The FIFO cannot be opened (InvalidArgument naming <paramref name="field"/>).</exception>
    public static StdinPump Start(string path, Func<ReadOnlyMemory<byte>, Task> write, string field)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | Libc.O_NOCTTY);
        if (fd < 0)
        {
            var error = LinuxException.FromLastError($"open {path}");
            throw new TaskException(TaskErrorKind.InvalidArgument, $"{field}: {error.Message}", error);
        }
        return new StdinPump(fd, path, write);
    }

    /// <summary>Copies what the FIFO holds now, then ends (CloseIO: the client has written all it will).</summary>
    public void RequestClose() => _closeRequested = true;

    /// <summary>Ends the copy at the next poll, whatever the FIFO still holds (the process is gone).</summary>
    public void Stop() => _stopped = true;

    private void Run()
    {
        var buffer = new byte[BufferSize];
        try
        {
            while (!_stopped)
            {
                bool closing = _closeRequested;
                var poll = new Libc.PollFd { Fd = _fd, Events = Libc.POLLIN };
                int ready = Libc.Poll(&poll, 1, closing ? 0 : PollMilliseconds);
                if (ready < 0)
                {
                    if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Errno.EINTR)
                    {
                        continue;
                    }
                    break;
                }
                if (ready == 0)
                {
                    if (closing)
                    {
                        break; // drained
                    }
                    continue;
                }
                nint read;
                fixed (byte* p = buffer)
                {
                    read = Libc.Read(_fd, p, (nuint)buffer.Length);
                }
                if (read == 0)
                {
                    break; // the client closed its end
                }
                if (read < 0)
                {
                    int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    if (errno is Errno.EAGAIN or Errno.EINTR)
                    {
                        continue;
                    }
                    ShimLog.Warn($"reading stdin {_path} failed ({Errno.Name(errno)})");
                    break;
                }
                try
                {
                    _write(buffer.AsMemory(0, (int)read)).GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
                {
                    break; // the process no longer takes input
                }
            }
        }
        finally
        {
            Libc.Close(_fd);
            _completion.TrySetResult();
        }
    }
}
