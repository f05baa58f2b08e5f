using System.Runtime.InteropServices;
using KataAgent.Linux.Interop;

namespace KataAgent.Host.Vm;

/// <summary>
/// A qemu process known by pid, possibly not our child (a daemonized one, or one another process started):
/// held through a pidfd so that a recycled pid can never be signalled or mistaken for it. Each use of the pidfd
/// holds a reference on it, so a dispose meanwhile (a wait for exit still polling) cannot close the number under it.
/// </summary>
internal sealed class QemuProcess : IDisposable
{
    private const int PollInterval = 50;
    private readonly SafeFileDescriptor _pidfd;

    private QemuProcess(int pid, SafeFileDescriptor pidfd)
    {
        ProcessId = pid;
        _pidfd = pidfd;
    }

    public int ProcessId { get; }

    /// <summary>
    /// Whether <paramref name="pid"/>'s command line holds <paramref name="text"/> (its arguments NUL-separated): how a
    /// pid read from a file is told from a recycled one. A zombie's command line is empty, so an exited but unreaped
    /// process does not count.
    /// </summary>
    public static bool CommandLineContains(int pid, string text)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(text, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The pid a pid file holds, or null while it is missing, empty or half-written.</summary>
    public static int? ReadPidFile(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Opens the running process <paramref name="pid"/>; null if it is gone.</summary>
    public static QemuProcess? TryOpen(int pid)
    {
        int pidfd = Libc.PidfdOpen(pid);
        return pidfd < 0 ? null : new QemuProcess(pid, new SafeFileDescriptor(pidfd));
    }

    /// <summary>Whether the process still runs (a zombie counts as exited; so does a disposed one).</summary>
    public unsafe bool IsRunning
    {
        get
        {
            bool referenced = false;
            try
            {
                _pidfd.DangerousAddRef(ref referenced);
                var poll = new Libc.PollFd { Fd = (int)_pidfd.DangerousGetHandle(), Events = Libc.POLLIN };
                return Libc.Poll(&poll, 1, 0) == 0;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            finally
            {
                if (referenced)
                {
                    _pidfd.DangerousRelease();
                }
            }
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

    /// <summary>Whether the process exits within <paramref name="timeout"/>.</summary>
    public async Task<bool> ExitsWithinAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Gives the process <paramref name="grace"/> to exit by itself (none when zero), then SIGTERM and
    /// <paramref name="terminateGrace"/>, then SIGKILL; returns once it is gone.
    /// </summary>
    /// <exception cref="VmException">The process may not be signalled.</exception>
    public async Task EndAsync(TimeSpan grace, TimeSpan terminateGrace)
    {
        if (grace > TimeSpan.Zero && await ExitsWithinAsync(grace).ConfigureAwait(false))
        {
            return;
        }
        Terminate();
        if (!await ExitsWithinAsync(terminateGrace).ConfigureAwait(false))
        {
            Kill();
            await WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
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
        int errno;
        bool referenced = false;
        try
        {
            _pidfd.DangerousAddRef(ref referenced);
            // errno is read before the release, whose close(2) (when a dispose came meanwhile) would overwrite it.
            errno = Libc.Syscall(Libc.SYS_pidfd_send_signal, (int)_pidfd.DangerousGetHandle(), signal, 0, 0, 0) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        catch (ObjectDisposedException)
        {
            // Disposed: nothing to signal, as before the pidfd was a handle.
            return;
        }
        finally
        {
            if (referenced)
            {
                _pidfd.DangerousRelease();
            }
        }
        // ESRCH: it has exited (a zombie counts) between the check and the signal.
        if (errno != 0 && errno != Errno.ESRCH)
        {
            var error = new LinuxException($"pidfd_send_signal(qemu pid {ProcessId}, {signal})", errno);
            throw new VmException($"cannot stop qemu (pid {ProcessId}): {error.Message}", error);
        }
    }

    public void Dispose() => _pidfd.Dispose();
}
