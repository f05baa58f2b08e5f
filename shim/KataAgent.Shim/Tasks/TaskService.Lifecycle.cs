using Google.Protobuf.WellKnownTypes;
using KataAgent.Host.Containers;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Protocols.Containerd.Task;
using KataAgent.Protocols.Containerd.Types;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    private const int SigKill = 9;
    private const int SigTerm = 15;

    /// <summary>
    /// Start: the init (StartContainer) or an exec (ExecProcess). TaskStart or TaskExecStarted is published before the
    /// process's exit can be: its exit is watched only from then on.
    /// </summary>
    private async Task<StartResponse> StartAsync(StartRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var process = task.Process(request.ExecId);
        await task.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (process.Status != Status.Created)
            {
                throw TaskException.FailedPrecondition($"{Describe(process)} is {process.Status.ToString().ToLowerInvariant()}, not created");
            }
            if (process.IsInit)
            {
                if (task.Container is { } container)
                {
                    await container.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                process.TryMarkRunning();
                _events.Publish(new TaskStart { ContainerId = task.Id, Pid = process.Pid });
            }
            else
            {
                if (task.Init.Status is not (Status.Running or Status.Paused))
                {
                    throw TaskException.FailedPrecondition($"task {task.Id} is {task.Init.Status.ToString().ToLowerInvariant()}: an exec needs it running");
                }
                var started = await task.Container!.ExecAsync(Container.NewExecId(), process.ExecSpec!, cancellationToken).ConfigureAwait(false);
                process.Agent = started;
                process.Pid = task.Init.Pid;
                try
                {
                    process.Io = await Stdio.ProcessIo.StartAsync(started, process.Stdin, process.Stdout, process.Stderr, process.Terminal,
                        process.ExecId, _arguments.Namespace, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await SignalQuietlyAsync(started, SigKill).ConfigureAwait(false);
                    throw;
                }
                process.TryMarkRunning();
                _events.Publish(new TaskExecStarted { ContainerId = task.Id, ExecId = process.ExecId, Pid = process.Pid });
            }
            if (process.Agent is not null)
            {
                if ((!process.Io!.WantsStdin && !process.Terminal) || process.CloseStdinOnStart)
                {
                    // No stdin from the client (end of input at once, as runc's /dev/null), or its CloseIO came early.
                    _ = CloseUnusedStdinAsync(process);
                }
                process.Monitor = MonitorAsync(task, process);
            }
            return new StartResponse { Pid = process.Pid };
        }
        finally
        {
            task.Gate.Release();
        }
    }

    /// <summary>
    /// Waits for the process's status (WaitProcess), then for its output to be in the FIFOs, then records the exit
    /// and publishes TaskExit: a client that sees the exit has the output.
    /// </summary>
    private async Task MonitorAsync(ShimTask task, ShimProcess process)
    {
        uint status;
        try
        {
            status = (uint)await process.Agent!.WaitAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            status = _vm is { StoppedByShim: true } or { CheckpointedAway: true } ? ProcessExit.Killed : ProcessExit.Unknown;
            ShimLog.Warn($"waiting for {Describe(process)} failed ({e.Message}); its status is {status}");
        }
        try
        {
            await process.Io!.OutputDone.WaitAsync(OutputGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Something still holds the process's output open (a child it left behind): the exit is not held up for
            // ever; the copies go on until Delete.
            ShimLog.Warn($"the output of {Describe(process)} had not ended {OutputGrace.TotalSeconds} s after its exit; reporting the exit");
        }
        PublishExit(task, process, status);
    }

    /// <summary>How long an exit waits for the process's output to end (to be in the FIFOs) before it is reported anyway.</summary>
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(10);

    /// <summary>Records <paramref name="process"/>'s exit and publishes TaskExit, unless it has one already.</summary>
    private void PublishExit(ShimTask task, ShimProcess process, uint status)
    {
        var at = DateTimeOffset.UtcNow;
        if (process.TrySetExited(status, at))
        {
            _events.Publish(new TaskExit { ContainerId = task.Id, Id = process.EventId, Pid = process.Pid, ExitStatus = status, ExitedAt = Time(at) });
        }
    }

    /// <summary>Wait: the process's exit, whenever it comes (also before Start; any number of waiters).</summary>
    private async Task<WaitResponse> WaitAsync(WaitRequest request, CancellationToken cancellationToken)
    {
        var process = Find(request.Id).Process(request.ExecId);
        var exit = await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WaitResponse { ExitStatus = exit.Status, ExitedAt = Time(exit.ExitedAt) };
    }

    /// <summary>
    /// Kill: a signal to the init (every process of the container, as Kata forces <c>all</c>) or to one exec. The
    /// sandbox task is the VM: a signal that ends a process ends the VM, and with it the pod. A process that has
    /// exited takes SIGKILL and SIGTERM quietly (containerd's delete paths send them), anything else is refused.
    /// </summary>
    private async Task<Empty> KillAsync(KillRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var process = task.Process(request.ExecId);
        int signal = checked((int)request.Signal);
        await task.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (process.Status == Status.Stopped)
            {
                return signal is SigKill or SigTerm or 0
                    ? new Empty()
                    : throw TaskException.FailedPrecondition($"{Describe(process)} has already exited");
            }
            if (signal == 0)
            {
                return new Empty();
            }
            if (task.Role == PodRole.Sandbox)
            {
                if (Terminates(signal) && _vm is { } vm)
                {
                    vm.KilledStatus ??= (uint)(128 + signal);
                    _ = StopVmAsync(vm, graceful: false);
                }
                return new Empty();
            }
            if (process.Status == Status.Created)
            {
                // Never started: nothing runs in the guest yet; the init is ended (removed on Delete), an exec forgotten.
                if (Terminates(signal))
                {
                    PublishExit(task, process, (uint)(128 + signal));
                }
                return new Empty();
            }
            if (process.IsInit)
            {
                await task.Container!.SignalAsync(signal, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await process.Agent!.SignalAsync(signal, cancellationToken).ConfigureAwait(false);
            }
            return new Empty();
        }
        finally
        {
            task.Gate.Release();
        }
    }

    /// <summary>
    /// Delete: an exec is forgotten; a container is removed from the VM and its rootfs unmounted; the sandbox (or a
    /// lone container) takes its VM with it. Only a process that is not running can be deleted. TaskDelete is
    /// published for a task's init.
    /// </summary>
    private async Task<DeleteResponse> DeleteAsync(DeleteRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var process = task.Process(request.ExecId);
        if (!process.IsInit)
        {
            await task.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (process.Status is Status.Running or Status.Paused)
                {
                    throw TaskException.FailedPrecondition($"{Describe(process)} is running; kill it before deleting it");
                }
                PublishExit(task, process, ProcessExit.Killed);
                await ReleaseAsync(process).ConfigureAwait(false);
                task.RemoveExec(process.ExecId);
            }
            finally
            {
                task.Gate.Release();
            }
            var execExit = process.ExitIfAny!.Value;
            return new DeleteResponse { Pid = process.Pid, ExitStatus = execExit.Status, ExitedAt = Time(execExit.ExitedAt) };
        }
        await _tableGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_tasks)
            {
                if (!_tasks.ContainsKey(task.Id))
                {
                    throw TaskException.NotFound($"task {task.Id} not found: deleted already");
                }
            }
            if (process.Status is Status.Running or Status.Paused)
            {
                if (task.Role == PodRole.Sandbox && _vm?.Teardown is not null)
                {
                    // Killed: its exit comes once the VM is down.
                    await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    throw TaskException.FailedPrecondition($"task {task.Id} is running; kill it before deleting it");
                }
            }
            if (task.Role == PodRole.Sandbox && Tasks().Any(t => t.Role == PodRole.PodContainer))
            {
                throw TaskException.FailedPrecondition($"sandbox {task.Id} still has containers; delete them first");
            }
            // A task deleted before it ran: its init is ended here, so that a pending Wait returns.
            PublishExit(task, process, ProcessExit.Killed);
            foreach (var exec in task.Execs)
            {
                PublishExit(task, exec, ProcessExit.Killed);
                await ReleaseAsync(exec).ConfigureAwait(false);
            }
            await RemoveFromVmAsync(task).ConfigureAwait(false);
            lock (_tasks)
            {
                _tasks.Remove(task.Id);
            }
            var exit = process.ExitIfAny!.Value;
            _events.Publish(new TaskDelete { ContainerId = task.Id, Pid = process.Pid, ExitStatus = exit.Status, ExitedAt = Time(exit.ExitedAt) });
            return new DeleteResponse { Pid = process.Pid, ExitStatus = exit.Status, ExitedAt = Time(exit.ExitedAt) };
        }
        finally
        {
            _tableGate.Release();
        }
    }

    /// <summary>Takes <paramref name="task"/> out of the VM (or the VM away with it) and unmounts its rootfs.</summary>
    private async Task RemoveFromVmAsync(ShimTask task)
    {
        await ReleaseAsync(task.Init).ConfigureAwait(false);
        var vm = _vm;
        if (task.Role == PodRole.PodContainer)
        {
            if (task.Container is { } container)
            {
                if (vm is { Teardown: null } && !vm.Gone.Task.IsCompleted)
                {
                    try
                    {
                        await container.RemoveAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        // The guest keeps nothing that matters once the VM goes; the host side is unmounted below.
                        ShimLog.Warn($"removing container {task.Id} from the VM: {e.Message}");
                    }
                }
                await container.DisposeAsync().ConfigureAwait(false);
            }
        }
        else if (vm is not null)
        {
            if (task.Container is { } container)
            {
                await container.DisposeAsync().ConfigureAwait(false);
            }
            await StopVmAsync(vm, graceful: task.Role == PodRole.Single).ConfigureAwait(false);
            await vm.Gone.Task.ConfigureAwait(false);
            _vm = null;
        }
        if (task.MountedRootfs is { } rootfs)
        {
            RootfsMounter.UnmountAll(rootfs);
            task.MountedRootfs = null;
        }
        BundleState.Delete(task.Bundle);
    }

    /// <summary>Stops a process's stdio copies and lets go of its handle in the agent.</summary>
    private static async Task ReleaseAsync(ShimProcess process)
    {
        if (process.Io is { } io)
        {
            await io.DisposeAsync().ConfigureAwait(false);
        }
        if (!process.IsInit && process.Agent is { } agent)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>State: the process's status, stdio and exit.</summary>
    private Task<StateResponse> StateAsync(StateRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var process = task.Process(request.ExecId);
        var exit = process.ExitIfAny;
        var response = new StateResponse
        {
            Id = request.Id,
            ExecId = request.ExecId,
            Bundle = task.Bundle,
            Pid = process.Pid,
            Status = process.Status,
            Stdin = process.StdinUri,
            Stdout = process.StdoutUri,
            Stderr = process.StderrUri,
            Terminal = process.Terminal,
        };
        if (exit is { } e)
        {
            response.ExitStatus = e.Status;
            response.ExitedAt = Time(e.ExitedAt);
        }
        return Task.FromResult(response);
    }

    /// <summary>Pids: qemu's, the only host process of the pod (Kata's answer; the guest's pids mean nothing on the host).</summary>
    private Task<PidsResponse> PidsAsync(PidsRequest request, CancellationToken cancellationToken)
    {
        var task = Find(request.Id);
        var response = new PidsResponse();
        if (task.Init.Pid != 0)
        {
            response.Processes.Add(new ProcessInfo { Pid = task.Init.Pid });
        }
        return Task.FromResult(response);
    }

    private async Task CloseUnusedStdinAsync(ShimProcess process)
    {
        try
        {
            await process.Io!.CloseStdinAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ShimLog.Warn($"closing the unused stdin of {Describe(process)}: {e.Message}");
        }
    }

    private static async Task SignalQuietlyAsync(ContainerProcess process, int signal)
    {
        try
        {
            await process.SignalAsync(signal).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ShimLog.Warn($"signalling {process.ExecId} of {process.ContainerId}: {e.Message}");
        }
    }

    /// <summary>The signals whose default action ends a process (the ones that end the sandbox's VM).</summary>
    private static bool Terminates(int signal) => signal is 1 or 2 or 3 or 4 or 5 or 6 or 7 or 8 or 9 or 10 or 11 or 12 or 13 or 14 or 15 or 16 or 24 or 25 or 26 or 27 or 29 or 30 or 31 || signal >= 34;

    private static string Describe(ShimProcess process) =>
        process.IsInit ? $"task {process.TaskId}" : $"exec {process.ExecId} of task {process.TaskId}";
}
