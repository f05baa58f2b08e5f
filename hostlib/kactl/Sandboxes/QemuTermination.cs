using KataAgent.Linux.Interop;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>
/// Ends a sandbox's qemu from outside, by pid: the last resort of <c>kactl rm</c> when the agent
/// cannot power the VM off (or <c>-f</c> says not to ask it). qemu was started by another kactl,
/// so it is not our child: there is no exit status to wait for, only /proc to watch.
/// </summary>
public static class QemuTermination
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits until the sandbox's qemu has gone; false when it is still there after <paramref name="timeout"/>.</summary>
    public static async Task<bool> WaitForExitAsync(int pid, string stateDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (QemuProcessProbe.IsSandboxQemu(pid, stateDirectory))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>SIGTERM (qemu exits at once, closing its files), then SIGKILL if it is still there after <paramref name="grace"/>.</summary>
    /// <exception cref="KactlException">It would not die, or we may not signal it (exit 1).</exception>
    public static async Task KillAsync(int pid, string stateDirectory, TimeSpan grace, CancellationToken cancellationToken)
    {
        foreach (int signal in new[] { Libc.SIGTERM, Libc.SIGKILL })
        {
            // Checked again right before each signal: the pid must still be this sandbox's qemu.
            if (!QemuProcessProbe.IsSandboxQemu(pid, stateDirectory))
            {
                return;
            }
            if (Libc.Kill(pid, signal) != 0)
            {
                var error = LinuxException.FromLastError($"kill({pid}, {signal})");
                if (error.Errno == Errno.ESRCH)
                {
                    return;
                }
                throw new KactlException(ExitCodes.RpcFailed, $"cannot stop qemu (pid {pid}): {error.Message}", error);
            }
            if (await WaitForExitAsync(pid, stateDirectory, grace, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
        throw new KactlException(ExitCodes.RpcFailed, $"qemu (pid {pid}) is still running after SIGKILL");
    }
}
