using System.Globalization;
using KataAgent.Host.Vsock;

namespace KataAgent.Host.Vm;

/// <summary>
/// The body of the process that serves a detached <see cref="QemuVm"/>'s vhost-user-vsock device (what
/// <see cref="QemuOptions.VsockBackendCommand"/> runs; <c>kactl vhost-user-vsock</c> is one): it starts the backend
/// (listening before qemu starts, as qemu is the client of its socket), then waits for the qemu whose pid file it was
/// given, and ends when that qemu has gone, whatever ended it (a stop, a kill, a guest power-off), so nothing of a
/// VM outlives it. A qemu that never comes ends it too, after <see cref="QemuStartTimeout"/>.
/// </summary>
public static class QemuVsockBackendProcess
{
    /// <summary>The vhost-user socket qemu connects to (the backend creates it).</summary>
    public const string SocketOption = "--socket";

    /// <summary>The hybrid-vsock unix socket host clients connect to (<c>CONNECT PORT</c>).</summary>
    public const string HybridSocketOption = "--hybrid-socket";

    /// <summary>The guest's CID.</summary>
    public const string CidOption = "--cid";

    /// <summary>qemu's pid file: whose exit ends the backend.</summary>
    public const string QemuPidFileOption = "--qemu-pid-file";

    /// <summary>How long the backend waits for qemu's pid file before it gives up (the starter failed).</summary>
    public static readonly TimeSpan QemuStartTimeout = TimeSpan.FromSeconds(120);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The options <see cref="QemuVm"/> appends to <see cref="QemuOptions.VsockBackendCommand"/>.</summary>
    internal static string[] Arguments(string socketPath, string hybridSocketPath, uint guestCid, string qemuPidFile) =>
    [
        SocketOption, socketPath,
        HybridSocketOption, hybridSocketPath,
        CidOption, guestCid.ToString(CultureInfo.InvariantCulture),
        QemuPidFileOption, qemuPidFile,
    ];

    /// <summary>
    /// Serves the device until the qemu named by <paramref name="qemuPidFile"/> has exited (or never came, or
    /// <paramref name="cancellationToken"/> fires: SIGTERM); then stops the backend and removes its sockets.
    /// Returns the process's exit code: 0 when qemu came and went, 1 when it never came or the backend failed.
    /// </summary>
    public static async Task<int> RunAsync(string socketPath, string hybridSocketPath, uint guestCid, string qemuPidFile, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentException.ThrowIfNullOrEmpty(hybridSocketPath);
        ArgumentException.ThrowIfNullOrEmpty(qemuPidFile);
        ArgumentNullException.ThrowIfNull(log);
        var backend = VhostUserVsockBackend.Start(new VhostUserVsockOptions
        {
            VhostUserSocketPath = socketPath,
            HybridSocketPath = hybridSocketPath,
            GuestCid = guestCid,
            Log = log,
        });
        int code = 0;
        try
        {
            using var qemu = await WaitForQemuAsync(qemuPidFile, socketPath, backend.Completion, cancellationToken).ConfigureAwait(false);
            if (qemu is null)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    await log.WriteLineAsync("vhost-user-vsock: terminated before its qemu came; stopping").ConfigureAwait(false);
                }
                else if (!backend.Completion.IsCompleted)
                {
                    await log.WriteLineAsync($"vhost-user-vsock: no qemu using {socketPath} appeared in {qemuPidFile} within {QemuStartTimeout.TotalSeconds:0} s; stopping").ConfigureAwait(false);
                    code = 1;
                }
            }
            else
            {
                await log.WriteLineAsync($"vhost-user-vsock: serving qemu pid {qemu.ProcessId} (guest CID {guestCid})").ConfigureAwait(false);
                await Task.WhenAny(qemu.WaitForExitAsync(cancellationToken), backend.Completion).ConfigureAwait(false);
                if (!qemu.IsRunning)
                {
                    await log.WriteLineAsync($"vhost-user-vsock: qemu pid {qemu.ProcessId} has exited; stopping").ConfigureAwait(false);
                }
            }
            if (backend.Completion.IsFaulted)
            {
                await log.WriteLineAsync($"vhost-user-vsock: the backend failed: {backend.Completion.Exception?.GetBaseException().Message}").ConfigureAwait(false);
                code = 1;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await log.WriteLineAsync("vhost-user-vsock: terminated; stopping").ConfigureAwait(false);
        }
        finally
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            QemuVm.DeleteSocket(socketPath);
            QemuVm.DeleteSocket(hybridSocketPath);
            await log.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        return code;
    }

    /// <summary>The qemu that the pid file names and that uses <paramref name="socketPath"/>, once it runs; null if none came in time.</summary>
    private static async Task<QemuProcess?> WaitForQemuAsync(string qemuPidFile, string socketPath, Task backendCompletion, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + QemuStartTimeout;
        while (DateTime.UtcNow < deadline && !backendCompletion.IsCompleted)
        {
            if (QemuProcess.ReadPidFile(qemuPidFile) is { } pid && QemuProcess.TryOpen(pid) is { } process)
            {
                // Opened first, then checked: a recycled pid cannot pass for our qemu.
                if (QemuVm.IsProcessUsing(pid, socketPath))
                {
                    return process;
                }
                process.Dispose();
            }
            try
            {
                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
        return null;
    }
}
