using KataAgent.Linux.Interop;

namespace KataAgent.Host.Vm;

/// <summary>
/// A qemu process known by pid, possibly not our child (a daemonized one, or one another process started):
/// held through a pidfd so that a recycled pid can never be signalled or mistaken for it.
/// </summary>
internal sealed class QemuProcess : IDisposable
{
    private const int PollInterval = 50;
    private int _pidfd;

    private QemuProcess(int pid, int pidfd)
    {
        ProcessId = pid;
        _pidfd = pidfd;
    }

    public int ProcessId { get; }

    /// <summary>Opens the running process <paramref name="pid"/>; null if it is gone.</summary>
    public static QemuProcess? TryOpen(int pid)
    {
        int pidfd = Libc.PidfdOpen(pid);
        return pidfd < 0 ? null : new QemuProcess(pid, pidfd);
    }

    /// <summary>Whether the process still runs (a zombie counts as exited).</summary>
    public unsafe bool IsRunning
    {
        get
        {
            if (_pidfd < 0)
            {
                return false;
            }
            var poll = new Libc.PollFd { Fd = _pidfd, Events = Libc.POLLIN };
            return Libc.Poll(&poll, 1, 0) == 0;
        }
    }

    /// <summary>Completes when the process has exited.</summary>
    public async Task WaitForExitAsync(CancellationToken cancellationToken)
    {
        // The pidfd becomes readable at exit; polling it keeps no thread blocked and needs no child relationship.
        while (IsRunning)
        {
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILL, through the pidfd.</summary>
    /// <exception cref="VmException">The process may not be signalled.</exception>
    public void Kill() => Signal(Libc.SIGKILL);

    /// <summary>SIGTERM, through the pidfd.</summary>
    /// <exception cref="VmException">The process may not be signalled.</exception>
    public void Terminate() => Signal(Libc.SIGTERM);

    private void Signal(int signal)
    {
        if (_pidfd >= 0 && Libc.Syscall(Libc.SYS_pidfd_send_signal, _pidfd, signal, 0, 0, 0) < 0)
        {
            var error = LinuxException.FromLastError($"pidfd_send_signal(qemu pid {ProcessId}, {signal})");
            // ESRCH: it has exited (a zombie counts) between the check and the signal.
            if (error.Errno != Errno.ESRCH)
            {
                throw new VmException($"cannot stop qemu (pid {ProcessId}): {error.Message}", error);
            }
        }
    }

    public void Dispose()
    {
        if (_pidfd >= 0)
        {
            Libc.Close(_pidfd);
            _pidfd = -1;
        }
    }
}
