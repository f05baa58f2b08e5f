using KataAgent.Helpers.Processes;
using KataAgent.Agent.Containers;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Processes;
using KataAgent.Linux.Interop;
using KataAgent.Linux.IO;
using KataAgent.Protocols.Extensions;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Pods;

/// <summary>
/// Runs a pod's start gate in the guest and says how it ended. In the guest's root the gate is spawned by the agent
/// itself (stdin /dev/null, stdout and stderr one pipe); in a container's root it is an exec into that created (not
/// yet started) container: its mount, PID, UTS and IPC namespaces and its cgroup, as root with the agent's
/// capabilities, so a gate can be an attestation client shipped in the pod's image. Either way the output is kept in
/// a 64 KiB tail, a gate still running at its timeout is killed, and every outcome is a <see cref="GateStatus"/>,
/// never an exception, except cancellation (the pod is being deleted).
/// </summary>
internal sealed class StartGateRunner(ProcessReaper reaper, ILogger<StartGateRunner> logger)
{
    /// <summary>StartGate.timeout_seconds when it is 0.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(300);

    /// <summary>How long output still held open by the gate's own children is waited for once it has exited.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Runs <paramref name="gate"/>, in <paramref name="container"/>'s root when given.</summary>
    public async Task<GateStatus> RunAsync(StartGate gate, Container? container, CancellationToken cancellationToken)
    {
        var timeout = gate.TimeoutSeconds == 0 ? DefaultTimeout : TimeSpan.FromSeconds(gate.TimeoutSeconds);
        var tail = new OutputTail();
        var outcome = container is null
            ? await RunInGuestAsync(gate, timeout, tail, cancellationToken).ConfigureAwait(false)
            : await RunInContainerAsync(gate, container, timeout, tail, cancellationToken).ConfigureAwait(false);
        var status = new GateStatus
        {
            State = outcome.Status == 0 ? GateStatus.Types.State.Passed : GateStatus.Types.State.Failed,
            ExitCode = outcome.Status,
            Output = Google.Protobuf.ByteString.CopyFrom(tail.ToArray()),
            Reason = outcome.Reason,
        };
        logger.LogInformation("start gate {Args}: {State} ({Reason})", string.Join(' ', gate.Args), status.State, status.Reason.Length > 0 ? status.Reason : "exit 0");
        return status;
    }

    private async Task<(int Status, string Reason)> RunInGuestAsync(StartGate gate, TimeSpan timeout, OutputTail tail, CancellationToken cancellationToken)
    {
        string path = gate.Args[0];
        var (outputRead, outputWrite) = Libc.Pipe();
        int devNull = -1;
        int pid;
        Task<int> exit;
        try
        {
            devNull = Libc.Check(Libc.Open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC), "open /dev/null");
            (pid, exit) = reaper.SpawnWatched(() => ProcessSpawner.Spawn(path, [.. gate.Args], [.. gate.Env], [devNull, outputWrite, outputWrite]));
        }
        catch (LinuxException e)
        {
            Libc.Close(outputRead);
            return (-1, $"{path}: {Describe(e)}");
        }
        finally
        {
            if (devNull >= 0)
            {
                Libc.Close(devNull);
            }
            Libc.Close(outputWrite);
        }
        using var output = new FileDescriptorStream(outputRead, ownsFd: true);
        var reading = CopyAsync(output, tail);
        var ended = await WaitAsync(exit, timeout, () => Libc.Kill(pid, Libc.SIGKILL), cancellationToken).ConfigureAwait(false);
        await DrainAsync(reading).ConfigureAwait(false);
        return ended;
    }

    private async Task<(int Status, string Reason)> RunInContainerAsync(StartGate gate, Container container, TimeSpan timeout, OutputTail tail, CancellationToken cancellationToken)
    {
        if (container.State != ContainerState.Created || container.Init.HasExited)
        {
            return (-1, $"container '{container.Id}' is {(container.Init.HasExited ? "gone" : container.State.ToString().ToLowerInvariant())}: the gate runs only in a created container");
        }
        var config = new InitConfig
        {
            Mode = "exec",
            JoinPid = container.Init.Pid,
            JoinPidFlags = container.NamespaceFlags,
            Args = [.. gate.Args],
            Env = [.. gate.Env],
            Cwd = "/",
        };
        ContainerProcess process;
        try
        {
            process = await ContainerProcess.SpawnAsync($"start-gate-{Guid.NewGuid():N}", config, (0, 0), reaper, pid => container.Cgroup?.AddProcess(pid), cancellationToken).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            return (-1, e.Problem);
        }
        await using (process.ConfigureAwait(false))
        {
            process.CloseStdin();
            var reading = Task.WhenAll(CopyAsync(process.Stdout, tail), CopyAsync(process.Stderr, tail));
            var ended = await WaitAsync(process.Exited, timeout, () => process.Signal(Libc.SIGKILL), cancellationToken).ConfigureAwait(false);
            await DrainAsync(reading).ConfigureAwait(false);
            return ended;
        }
    }

    /// <summary>The gate's exit, or its kill at <paramref name="timeout"/> or at cancellation (which is rethrown).</summary>
    private static async Task<(int Status, string Reason)> WaitAsync(Task<int> exit, TimeSpan timeout, Action kill, CancellationToken cancellationToken)
    {
        try
        {
            int status = await exit.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return (status, status == 0 ? "" : status > 128 ? $"killed by signal {status - 128}" : $"exit {status}");
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Killed only while not yet reaped: after that its pid may belong to someone else.
            if (!exit.IsCompleted)
            {
                kill();
            }
            await exit.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return (-1, $"timed out after {timeout.TotalSeconds:0} s");
        }
    }

    private static async Task DrainAsync(Task reading)
    {
        try
        {
            await reading.WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A child of the gate still holds the output open; what came so far is kept.
        }
    }

    private static async Task CopyAsync(Stream source, OutputTail tail)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                tail.Append(buffer.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private static async Task CopyAsync(OutputBuffer source, OutputTail tail)
    {
        byte[] chunk;
        while ((chunk = await source.ReadAsync(16 * 1024, CancellationToken.None).ConfigureAwait(false)).Length > 0)
        {
            tail.Append(chunk);
        }
    }

    private static string Describe(LinuxException e) => e.Errno == Errno.ENOENT ? "not found" : e.Message;
}
