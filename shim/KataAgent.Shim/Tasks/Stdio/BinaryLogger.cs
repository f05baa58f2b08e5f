using KataAgent.Linux.Interop;
using KataAgent.Shim.Daemon;
using KataAgent.Shim.Interop;

namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>
/// A <c>binary://</c> logging driver (containerd's <c>ctr run --log-uri binary:///path?key=value</c>), started for one
/// process as containerd's runc shim starts it (<c>pkg/process/io.go</c> NewBinaryIO): the binary at the URI's path,
/// its arguments the query's keys each followed by its first value, its environment only <c>CONTAINER_ID</c> and
/// <c>CONTAINER_NAMESPACE</c>, stdin, stdout and stderr on /dev/null, and three more fds: the read ends of the
/// process's stdout (fd 3) and stderr (fd 4) pipes, and the write end of a wait pipe (fd 5), which the binary closes
/// (or writes a byte to) once it is ready. Start returns only then, so that no output precedes the logger. When the
/// process's output has ended the pipes close and the logger sees the end; <see cref="DisposeAsync"/> (the task's or
/// exec's Delete) then sends it SIGTERM so that it flushes and exits, and SIGKILL after 12 s, as runc's shim does.
/// </summary>
internal sealed class BinaryLogger : IAsyncDisposable
{
    /// <summary>How long the logger gets to become ready; runc's shim waits for ever, which a broken logger would make a hung Create.</summary>
    public static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(60);

    /// <summary>How long the logger gets to exit after SIGTERM (runc's <c>binaryIOProcTermTimeout</c>).</summary>
    public static readonly TimeSpan TermLimit = TimeSpan.FromSeconds(12);

    private readonly int _pid;
    private readonly int _pidfd;
    private int _disposed;

    private BinaryLogger(int pid, int pidfd, OutputSink stdout, OutputSink stderr)
    {
        _pid = pid;
        _pidfd = pidfd;
        Stdout = stdout;
        Stderr = stderr;
    }

    /// <summary>The logger's pid.</summary>
    public int Pid => _pid;

    /// <summary>The write end of the logger's fd 3: the process's stdout goes here.</summary>
    public OutputSink Stdout { get; }

    /// <summary>The write end of the logger's fd 4: the process's stderr goes here.</summary>
    public OutputSink Stderr { get; }

    /// <summary>Starts <paramref name="target"/>'s binary for process <paramref name="id"/> of namespace <paramref name="ns"/> and waits until it is ready.</summary>
    /// <exception cref="TaskException">The binary cannot be started, or exits or stays unready (FailedPrecondition naming the URI's path).</exception>
    public static async Task<BinaryLogger> StartAsync(StdioTarget target, string id, string ns, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!File.Exists(target.Path))
        {
            throw TaskException.InvalidArgument("stdout", $"logging binary '{target.Path}' does not exist");
        }
        var (outRead, outWrite) = Libc.Pipe();
        var (errRead, errWrite) = Libc.Pipe();
        var (waitRead, waitWrite) = Libc.Pipe();
        int pid;
        try
        {
            pid = Spawn(target.Path, [target.Path, .. target.Arguments], [$"CONTAINER_ID={id}", $"CONTAINER_NAMESPACE={ns}"], outRead, errRead, waitWrite);
        }
        catch (ShimInteropException e)
        {
            foreach (int fd in new[] { outRead, outWrite, errRead, errWrite, waitRead, waitWrite })
            {
                Libc.Close(fd);
            }
            throw new TaskException(TaskErrorKind.FailedPrecondition, $"stdout: starting the logging binary {target.Path}: {e.Message}", e);
        }
        // Our copies of the logger's ends: only it holds them now, so its exit ends the wait pipe.
        Libc.Close(outRead);
        Libc.Close(errRead);
        Libc.Close(waitWrite);
        // The daemon's reaper takes a child that has been a zombie for 2 s: a pidfd, taken before that can happen,
        // keeps the signals and the wait on this process even when its pid is free again.
        int pidfd = Libc.PidfdOpen(pid);
        if (pidfd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            Libc.Kill(pid, Libc.SIGKILL);
            foreach (int fd in new[] { outWrite, errWrite, waitRead })
            {
                Libc.Close(fd);
            }
            throw new TaskException(TaskErrorKind.FailedPrecondition, $"stdout: pidfd_open of the logging binary {target.Path}: {Errno.Name(errno)}");
        }
        var logger = new BinaryLogger(pid, pidfd, OutputSink.ForPipe(outWrite, $"{target.Path} (stdout)"), OutputSink.ForPipe(errWrite, $"{target.Path} (stderr)"));
        try
        {
            using var wait = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(waitRead, ownsHandle: true), FileAccess.Read, 1, isAsync: false);
            var ready = Task.Run(() => wait.Read(new byte[1], 0, 1), CancellationToken.None);
            if (await Task.WhenAny(ready, Task.Delay(ReadyLimit, cancellationToken)).ConfigureAwait(false) != ready)
            {
                throw new TaskException(TaskErrorKind.FailedPrecondition, $"stdout: the logging binary {target.Path} did not close its fd 5 within {ReadyLimit.TotalSeconds:0} s");
            }
            await ready.ConfigureAwait(false);
        }
        catch
        {
            await logger.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return logger;
    }

    /// <summary>Closes the pipes (if the copies have not), asks the logger to end, and kills it if it has not within <see cref="TermLimit"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Stdout.Dispose();
        Stderr.Dispose();
        Signal(Libc.SIGTERM);
        var deadline = DateTime.UtcNow + TermLimit;
        while (!Reaped())
        {
            if (DateTime.UtcNow >= deadline)
            {
                ShimLog.Warn($"logging binary {_pid} did not exit {TermLimit.TotalSeconds:0} s after SIGTERM: killed");
                Signal(Libc.SIGKILL);
                deadline = DateTime.MaxValue;
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
        Libc.Close(_pidfd);
    }

    private void Signal(int signal) => Libc.Syscall(Libc.SYS_pidfd_send_signal, _pidfd, signal, 0, 0, 0);

    /// <summary>Reaps the logger if it has exited; true once it is gone (also when the daemon's reaper took it first).</summary>
    private unsafe bool Reaped()
    {
        Libc.SigInfo info = default;
        int result = Libc.WaitId(Libc.P_PIDFD, _pidfd, &info, Libc.WEXITED | Libc.WNOHANG);
        // A zero pid: still running. ECHILD: somebody else reaped it.
        return result != 0 || info.Pid != 0;
    }

    private const int StdoutFd = 3;
    private const int StderrFd = 4;
    private const int WaitFd = 5;

    private static int Spawn(string program, IReadOnlyList<string> argv, IReadOnlyList<string> environment, int stdout, int stderr, int wait) =>
        ShimSpawn.Spawn(program, argv, environment, [(stdout, StdoutFd), (stderr, StderrFd), (wait, WaitFd)], workingDirectory: null, newSession: false);
}
