using KataAgent.Helpers.Sandbox;
using KataAgent.Helpers.Containers.Init;
using KataAgent.Agent.Containers.Processes;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Processes;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Sandbox;

/// <summary>
/// The sandbox's pause process (<c>kata-agent pause</c>): PID 1 of the pod's shared PID namespace, in the sandbox's
/// UTS and IPC namespaces. It holds the namespace for as long as the sandbox lives, so that the pod's containers
/// survive each other's exits (the init of a PID namespace takes every process in it down when it dies, which is
/// why a workload container must never hold it), and it reaps what is orphaned there. Started by CreateSandbox with
/// sandbox_pidns (every container then joins it), or on demand by the first CreateContainer with sandbox_pidns in a
/// sandbox that has no shared PID namespace yet (then only the containers that ask join it); ended by
/// DestroySandbox.
/// </summary>
public sealed class SandboxPause(SandboxNamespaces namespaces, ProcessReaper reaper, ILogger<SandboxPause> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ContainerProcess? _pause;

    /// <summary>
    /// Starts the pause process unless it runs already, and records its PID namespace in
    /// <see cref="SandboxNamespaces"/>: for every container when <paramref name="forEveryContainer"/> (CreateSandbox),
    /// else for those that ask (CreateContainer's sandbox_pidns). Needs the sandbox's UTS and IPC namespaces.
    /// </summary>
    public async Task EnsureStartedAsync(bool forEveryContainer, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_pause is null)
            {
                if (namespaces.UtsPath is not { } uts || namespaces.IpcPath is not { } ipc)
                {
                    throw AgentException.FailedPrecondition("sandbox_pidns", "the pod's PID namespace needs a sandbox: CreateSandbox has not been called");
                }
                var config = new InitConfig
                {
                    Mode = "create",
                    UnshareFlags = Libc.CLONE_NEWNS | Libc.CLONE_NEWPID,
                    Join = [new NamespaceJoin { Type = Libc.CLONE_NEWUTS, Path = uts }, new NamespaceJoin { Type = Libc.CLONE_NEWIPC, Path = ipc }],
                    // The init helper runs from its sealed memfd, so its /proc/self/exe is kata-agent-init.
                    Args = ["/proc/self/exe", PauseMode.Argument],
                };
                ContainerProcess pause;
                try
                {
                    pause = await ContainerProcess.SpawnAsync("pause", config, (0, 0), reaper, _ => { }, cancellationToken).ConfigureAwait(false);
                }
                catch (AgentException e)
                {
                    throw AgentException.Internal($"starting the sandbox's pause process: {e.Message}", e);
                }
                try
                {
                    await pause.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (AgentException e)
                {
                    await KillAsync(pause).ConfigureAwait(false);
                    throw AgentException.Internal($"starting the sandbox's pause process: {e.Message}", e);
                }
                _pause = pause;
                namespaces.SetPause($"/proc/{pause.Pid}/ns/pid", forEveryContainer);
                logger.LogInformation("pause process {Pid} holds the pod's PID namespace (joined by {Who})", pause.Pid, forEveryContainer ? "every container" : "containers that ask");
            }
            else if (forEveryContainer)
            {
                namespaces.SetPause(namespaces.PausePidPath!, forEveryContainer: true);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Ends the pause process, and with it whatever is left in the pod's PID namespace.</summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_pause is { } pause)
            {
                _pause = null;
                await KillAsync(pause).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task KillAsync(ContainerProcess pause)
    {
        pause.Signal(Libc.SIGKILL);
        await pause.Exited.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await pause.DisposeAsync().ConfigureAwait(false);
    }
}
