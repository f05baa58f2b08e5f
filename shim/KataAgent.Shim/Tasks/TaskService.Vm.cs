using KataAgent.Host;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Containerd.Events;
using KataAgent.Shim.Daemon;

namespace KataAgent.Shim.Tasks;

internal sealed partial class TaskService
{
    /// <summary>How long the end of a VM waits for a process's exit watcher (its output's end) before ending it itself.</summary>
    private static readonly TimeSpan MonitorGrace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Takes the VM down: orderly (<paramref name="graceful"/>: containers removed, DestroySandbox, the guest powers
    /// off) or at once (qemu stopped); either way the share is unmounted, the pod netns restored and the state deleted.
    /// Once only; completes when the teardown has, <see cref="PodVm.Gone"/> when every task has its exit too.
    /// </summary>
    private Task StopVmAsync(PodVm vm, bool graceful) => vm.BeginTeardown(async () =>
    {
        vm.Lifetime.Cancel();
        try
        {
            if (graceful)
            {
                await vm.Sandbox.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await vm.Sandbox.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            ShimLog.Warn($"tearing down the VM of {vm.SandboxId}: {e.Message}");
            await vm.Sandbox.DisposeAsync().ConfigureAwait(false);
        }
    });

    /// <summary>
    /// Waits for qemu's end, whoever caused it. Then every process in the VM exits (with what its wait got, or 137 when
    /// the shim took the VM down, 255 when it died on its own), the VM's host side is cleaned up (if it died on its
    /// own), and last the sandbox task exits: containerd's CRI tears the pod's network down after that exit.
    /// </summary>
    private async Task WatchVmAsync(PodVm vm)
    {
        try
        {
            var exit = await vm.Sandbox.Vm.Exited.ConfigureAwait(false);
            if (!vm.StoppedByShim && !vm.CheckpointedAway)
            {
                ShimLog.Warn($"the VM of {vm.SandboxId} ended on its own (qemu pid {vm.Pid} exit code {exit.ExitCode}): every task in it exits");
            }
        }
        catch (Exception e)
        {
            ShimLog.Warn($"watching the VM of {vm.SandboxId}: {e.Message}");
        }
        bool ours = vm.StoppedByShim;
        vm.Lifetime.Cancel();
        uint status = ours || vm.CheckpointedAway ? ProcessExit.Killed : ProcessExit.Unknown;
        ShimTask? sandboxTask = null;
        foreach (var task in Tasks())
        {
            if (task.Role == PodRole.Sandbox)
            {
                sandboxTask = task;
                continue;
            }
            foreach (var process in task.Execs.Prepend(task.Init))
            {
                if (process.Monitor is { } monitor)
                {
                    try
                    {
                        await monitor.WaitAsync(MonitorGrace).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        ShimLog.Warn($"the output of {Describe(process)} did not end with its VM; it exits without the rest");
                    }
                }
                PublishExit(task, process, status);
            }
        }
        try
        {
            if (ours)
            {
                await vm.Teardown!.ConfigureAwait(false);
            }
            else
            {
                await StopVmAsync(vm, graceful: false).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            ShimLog.Warn($"cleaning up after the VM of {vm.SandboxId}: {e.Message}");
        }
        if (sandboxTask is not null)
        {
            PublishExit(sandboxTask, sandboxTask.Init, vm.KilledStatus ?? status);
        }
        vm.Gone.TrySetResult();
    }

    /// <summary>
    /// Publishes TaskOOM for each OOM kill the agent reports (GetOOMEvent long polls) while the VM runs; for a CRI-O
    /// task it also creates the <c>oom</c> file in its bundle, which CRI-O reads (it takes no events), as Kata's shim does.
    /// </summary>
    private async Task WatchOomAsync(PodVm vm)
    {
        var token = vm.Lifetime.Token;
        while (!token.IsCancellationRequested)
        {
            OOMEvent oom;
            try
            {
                oom = await vm.Sandbox.Agent.GetOOMEventAsync(new GetOOMEventRequest(), token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (AgentStatusException e) when (e.StatusCode == AgentStatusCode.Unimplemented)
            {
                ShimLog.Warn($"the agent of {vm.SandboxId} reports no OOM events: {e.Message}");
                return;
            }
            catch (Exception e)
            {
                if (!vm.Sandbox.Vm.IsRunning)
                {
                    return;
                }
                ShimLog.Warn($"GetOOMEvent in the VM of {vm.SandboxId}: {e.Message}");
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            ShimTask? task;
            lock (_tasks)
            {
                task = _tasks.GetValueOrDefault(oom.ContainerId);
            }
            if (task is not null)
            {
                if (task.IsCriO)
                {
                    WriteOomFile(task.Bundle);
                }
                _events.Publish(new TaskOOM { ContainerId = oom.ContainerId });
            }
        }
    }

    /// <summary>The empty <c>oom</c> file CRI-O looks for in the bundle; a failure is logged, never the watcher's end.</summary>
    private static void WriteOomFile(string bundle)
    {
        string path = Path.Combine(bundle, "oom");
        try
        {
            using (File.Open(path, FileMode.OpenOrCreate, FileAccess.Write))
            {
            }
            ShimLog.Info($"wrote {path} for CRI-O");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ShimLog.Warn($"the oom file for CRI-O: {path}: {e.Message}");
        }
    }
}
