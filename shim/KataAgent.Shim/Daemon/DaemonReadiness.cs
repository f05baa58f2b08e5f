using System.Globalization;
using KataAgent.Shim.Cli;
using KataAgent.Shim.Interop;
using KataAgent.Linux.Interop;

namespace KataAgent.Shim.Daemon;

/// <summary>
/// The daemon's side of <c>start</c>'s ready pipe: one byte on the fd <see cref="DaemonLauncher.ReadyFdVariable"/>
/// names, once the daemon can be stopped cleanly, then the fd closed and the variable gone, so nothing the daemon
/// starts later inherits either. A daemon run by hand has no such pipe and signals nothing.
/// </summary>
internal static unsafe class DaemonReadiness
{
    /// <summary>Tells <c>start</c> the daemon is ready, if <c>start</c> is waiting.</summary>
    public static void Signal()
    {
        string? value = Environment.GetEnvironmentVariable(DaemonLauncher.ReadyFdVariable);
        Environment.SetEnvironmentVariable(DaemonLauncher.ReadyFdVariable, null);
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int fd) || fd != DaemonLauncher.ReadyFd)
            return;
        byte ready = (byte)'R';
        if (Libc.Write(fd, &ready, 1) != 1)
            ShimLog.Warn("start's ready pipe is gone", ShimInteropException.FromLastError("write"));
        Libc.Close(fd);
    }
}
