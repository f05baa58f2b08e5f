using System.Globalization;
using CliWrap;
using CliWrap.Buffered;
using KataAgent.Host.SharedFs;

namespace KataAgent.Host.Vm;

public sealed partial class QemuVm
{
    /// <summary>How long qemu gets to honour QMP <c>quit</c> before it is killed.</summary>
    private static readonly TimeSpan QuitGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Stops qemu: waits up to <paramref name="grace"/> for it to exit by itself (the agent powers the guest off
    /// after DestroySandbox), then asks it to <c>quit</c> over QMP, then kills it. Returns once it is gone, and its
    /// shares' virtiofsds with it (sockets removed).
    /// The state directory stays until <see cref="DisposeAsync"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken = default)
    {
        if (_process is null)
        {
            return;
        }
        if (grace > TimeSpan.Zero && await ExitsWithinAsync(grace, cancellationToken).ConfigureAwait(false))
        {
            await ReapAsync().ConfigureAwait(false);
            await StopVirtiofsdsAsync(VirtiofsdExitGrace).ConfigureAwait(false);
            return;
        }
        if (IsRunning && Qmp is not null)
        {
            try
            {
                await Qmp.ExecuteAsync("quit", cancellationToken: cancellationToken).WaitAsync(QuitGrace, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is QmpConnectionException or QmpException or TimeoutException)
            {
                // qemu may close the socket before its reply arrives; whether it really quit is checked next.
            }
        }
        if (!await ExitsWithinAsync(QuitGrace, cancellationToken).ConfigureAwait(false))
        {
            _process.Kill();
            await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        await ReapAsync().ConfigureAwait(false);
        // qemu's disconnect ends them; what is left is signalled, and their sockets go.
        await StopVirtiofsdsAsync(VirtiofsdExitGrace).ConfigureAwait(false);
    }

    /// <summary>qemu has gone: collect it and stop what served its devices.</summary>
    private async Task ReapAsync()
    {
        await ReapQemuAsync().ConfigureAwait(false);
        await StopVsockBackendAsync().ConfigureAwait(false);
    }

    /// <summary>Completes when qemu has exited, whoever started it.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _process?.WaitForExitAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>
    /// Lets go of the VM. One this process started (not <see cref="QemuOptions.Detached"/>) is stopped first. Once
    /// qemu is gone, the state directory is removed; a detached VM that is still running keeps it, for a later
    /// <see cref="AttachAsync"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_closed)
        {
            return;
        }
        if (!_options.Detached)
        {
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        }
        bool running = IsRunning;
        if (!running)
        {
            await StopVirtiofsdsAsync(VirtiofsdExitGrace).ConfigureAwait(false);
        }
        await CloseAsync().ConfigureAwait(false);
        if (!running)
        {
            DeleteStateDirectory();
        }
    }

    /// <summary>Lets go of the connections and the process handle; qemu (if it runs) and the state directory stay.</summary>
    internal async ValueTask CloseAsync()
    {
        if (_closed)
        {
            return;
        }
        _closed = true;
        CloseVirtiofsds();
        await DisconnectAsync().ConfigureAwait(false);
        _process?.Dispose();
        // A handle only: a detached VM's backend process runs on with its qemu.
        _vsockBackendProcess?.Dispose();
        _vsockBackendProcess = null;
        _kill.Dispose();
        _hotplugLock.Dispose();
    }

    ValueTask IVirtualMachine.CloseAsync() => CloseAsync();

    /// <summary>A start that failed half-way: kill whatever runs, detached or not, and remove the state.</summary>
    private async Task AbandonAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
        if (_process is not null)
        {
            _process.Kill();
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            _process.Dispose();
        }
        else if (_qemu is not null && !_qemu.Task.IsCompleted)
        {
            _kill.Cancel();
        }
        await ReapAsync().ConfigureAwait(false);
        await StopVirtiofsdsAsync(TimeSpan.Zero).ConfigureAwait(false);
        DeleteStateDirectory();
        _kill.Dispose();
        _hotplugLock.Dispose();
    }

    private async Task DisconnectAsync()
    {
        if (Agent is not null)
        {
            await Agent.DisposeAsync().ConfigureAwait(false);
            Agent = null!;
        }
        if (Qmp is not null)
        {
            await Qmp.DisposeAsync().ConfigureAwait(false);
            Qmp = null!;
        }
    }

    private Task<bool> ExitsWithinAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _process!.ExitsWithinAsync(timeout, cancellationToken);

    /// <summary>Collects the exit of qemu when it is our child, so it does not linger as a zombie.</summary>
    private async Task ReapQemuAsync()
    {
        if (_exited is null)
        {
            return;
        }
        try
        {
            await _exited.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
    }

    /// <summary>Deletes the state directory, never through a mount left in it (see <see cref="SharedFs.StateDirectory.Delete"/>).</summary>
    private void DeleteStateDirectory()
    {
        try
        {
            SharedFs.StateDirectory.Delete(_options.StateDirectory);
        }
        catch (IOException)
        {
        }
        catch (ShareException)
        {
            // A mount that would not go: the directory stays rather than be deleted through it.
        }
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        UsesKvm = _options.AllowKvm && File.Exists("/dev/kvm");
        if (_options.Detached)
        {
            await LaunchDetachedAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            LaunchChild();
        }
        _process = QemuProcess.TryOpen(ProcessId)
            ?? throw new QemuBootException($"qemu (pid {ProcessId}) exited at once", ConsoleTail());
    }

    /// <summary>
    /// qemu daemonizes itself: the command returns once the VM is set up (or failed, with the reason on stderr),
    /// and the pid file names the daemon. It is in its own session, so nothing of ours takes it down.
    /// </summary>
    private async Task LaunchDetachedAsync(CancellationToken cancellationToken)
    {
        BufferedCommandResult result;
        try
        {
            string[] command = [.. LaunchPrefix(), _options.QemuPath, .. BuildArguments()];
            result = await Cli.Wrap(command[0]).WithArguments(command[1..])
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmException($"cannot start {_options.QemuPath}: {e.Message}", e);
        }
        if (result.ExitCode != 0)
        {
            throw new QemuBootException($"qemu exited with code {result.ExitCode}: {result.StandardError.Trim()}", ConsoleTail());
        }
        ProcessId = int.Parse(File.ReadAllText(PidFilePath).Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<QemuExit> ExitOf(Task<CommandResult> qemu)
    {
        var result = await qemu.ConfigureAwait(false);
        return new QemuExit(result.ExitCode, result.StartTime, result.ExitTime);
    }

    private void LaunchChild()
    {
        string[] qemu = ["setpriv", "--pdeathsig", "KILL", "--", .. LaunchPrefix(), _options.QemuPath, .. BuildArguments()];
        try
        {
            _qemu = OwnedChildProcess.Start(qemu, "qemu", _kill.Token);
        }
        catch (Exception e)
        {
            throw new VmException($"cannot start {_options.QemuPath} (through setpriv): {e.Message}", e);
        }
        // setpriv execs qemu: same pid.
        ProcessId = _qemu!.ProcessId;
        _exited = ExitOf(_qemu.Task);
    }
}
