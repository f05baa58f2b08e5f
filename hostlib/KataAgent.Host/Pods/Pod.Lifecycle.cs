using KataAgent.Protocols.Extensions;

namespace KataAgent.Host.Pods;

public sealed partial class Pod
{
    /// <summary>
    /// StartPod: the guest runs the start gate (if the pod has one and it has not passed yet), then starts every
    /// container in the spec's order. Each container's exit status is waited for from here on, so it is kept even if
    /// the pod is deleted right after.
    /// </summary>
    /// <returns>The gate's outcome (<see cref="GateStatus.Types.State.None"/> without a gate).</returns>
    /// <exception cref="PodStartGateException">The gate failed: no container was started; the guest's outcome is in it.</exception>
    /// <exception cref="AgentStatusException">The agent refused for another reason.</exception>
    public async Task<GateStatus> StartAsync(CancellationToken cancellationToken = default)
    {
        foreach (var (_, container) in _containers)
        {
            _ = container.InitProcess.BeginWait();
        }
        try
        {
            var response = await Sandbox.Agent.StartPodAsync(Id, cancellationToken).ConfigureAwait(false);
            return response.Gate ?? new GateStatus();
        }
        catch (AgentStatusException e) when (e.StatusCode == AgentStatusCode.FailedPrecondition)
        {
            // The status message carries the outcome too, but GetPod has it whole (exit code, output).
            var status = await Sandbox.Agent.GetPodAsync(Id, cancellationToken).ConfigureAwait(false);
            if (status.Gate is { State: GateStatus.Types.State.Failed } gate)
            {
                throw new PodStartGateException(Id, gate, e);
            }
            throw;
        }
    }

    /// <summary>GetPod: the gate, the containers and their states now.</summary>
    public Task<PodStatus> GetStatusAsync(CancellationToken cancellationToken = default) => Sandbox.Agent.GetPodAsync(Id, cancellationToken);

    /// <summary>
    /// WatchPod: the pod's status now (an event per container, and the gate's), then each change as it happens, until
    /// the pod is deleted (a <see cref="PodEvent.KindOneofCase.Deleted"/> event ends it) or the token is cancelled.
    /// </summary>
    public IAsyncEnumerable<PodEvent> WatchAsync(CancellationToken cancellationToken = default) => Sandbox.Agent.WatchPodAsync(Id, cancellationToken);

    /// <summary>
    /// The orderly end: DeletePod (each running container gets SIGTERM, then SIGKILL after <paramref name="grace"/>;
    /// the agent unmounts the volumes and ends the sandbox), then the sandbox's teardown (the VM stopped, the pod
    /// network restored, the state directory with the pod's files deleted). A guest that does not answer does not
    /// stop it: the VM goes anyway.
    /// </summary>
    /// <exception cref="Network.PodNetworkException">Restoring the pod netns failed (see <see cref="Sandboxes.Sandbox.DestroyAsync"/>).</exception>
    public async Task DeleteAsync(TimeSpan grace, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(grace, TimeSpan.Zero);
        if (Sandbox.Vm.IsRunning)
        {
            try
            {
                await Sandbox.Agent.DeletePodAsync(Id, (uint)Math.Ceiling(grace.TotalSeconds), cancellationToken).ConfigureAwait(false);
            }
            catch (KataAgentException)
            {
                // The VM's end takes everything in it; what the agent could not do it need not do.
            }
        }
        foreach (var (_, container) in _containers)
        {
            await container.DisposeAsync().ConfigureAwait(false);
        }
        await Sandbox.DestroyAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lets go of the pod on this side, asking the agent nothing: the containers' handles are closed, and the sandbox
    /// disposed (a VM this object started is stopped and its state deleted; an attached or detached one is only
    /// disconnected, and stays for <see cref="AttachAsync"/>).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (_, container) in _containers)
        {
            await container.DisposeAsync().ConfigureAwait(false);
        }
        await Sandbox.DisposeAsync().ConfigureAwait(false);
    }
}
