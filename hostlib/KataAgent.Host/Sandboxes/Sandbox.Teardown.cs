using KataAgent.Host.Network;
using KataAgent.Host.SharedFs;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Sandboxes;

public sealed partial class Sandbox
{
    /// <summary>Set once the VM is being taken down: removing a container then leaves its disk to the VM's end.</summary>
    private bool _tearingDown;

    /// <summary>Set once qemu is gone (stopped here): what is left is the network restore and the state.</summary>
    private bool _vmGone;

    /// <summary>Set once the endpoint's own teardown ran (it runs once; a retry restores from the journal).</summary>
    private bool _networkTried;

    /// <summary>Set when nothing is left to do: destroyed, or let go of.</summary>
    private bool _finished;

    /// <summary>
    /// The orderly end: removes the containers this object created, sends DestroySandbox (after which the agent
    /// powers the guest off), waits for qemu to exit (quit, then kill, after a grace), restores the pod netns
    /// (from the endpoint this object set up, or from the teardown journal for an attached sandbox), and deletes
    /// the state directory. The agent's answers do not stop it: a container or DestroySandbox the agent refuses
    /// is left to the VM's end.
    /// </summary>
    /// <exception cref="PodNetworkException">Restoring the pod netns failed: the message names the steps left undone.
    /// The VM is gone, but the state directory and its teardown journal stay, so that calling
    /// <see cref="DestroyAsync"/> again (or <see cref="RestoreNetworkAsync"/> from another process) can finish.</exception>
    public async Task DestroyAsync(CancellationToken cancellationToken = default)
    {
        if (_finished)
        {
            return;
        }
        if (!_vmGone)
        {
            _tearingDown = true;
            foreach (var container in _containers.ToArray())
            {
                try
                {
                    await _agent.RemoveContainerAsync(container.Id, container.Options.RemoveTimeout, cancellationToken).ConfigureAwait(false);
                }
                catch (KataAgentException)
                {
                    // Best effort: DestroySandbox removes whatever is left, and a dead VM takes everything with it.
                }
            }
            _containers.Clear();
            bool agentAnswered = false;
            if (_vm.IsRunning)
            {
                try
                {
                    await _agent.DestroySandboxAsync(cancellationToken).ConfigureAwait(false);
                    agentAnswered = true;
                }
                catch (KataAgentException)
                {
                    // The agent may power off before its answer gets out; qemu's exit is what counts.
                }
            }
            await _vm.StopAsync(agentAnswered ? PowerOffGrace : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            _vmGone = true;
        }
        await FinishTeardownAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// After qemu is gone (a tap it still held would not go away): unmounts the share, restores the pod network,
    /// then lets go of the VM and deletes the state directory (never through a mount). If the restore fails, the
    /// state directory stays with the journal, with nothing mounted in it.
    /// </summary>
    private async Task FinishTeardownAsync(CancellationToken cancellationToken)
    {
        string state = _vm.StateDirectory;
        try
        {
            // Before anything may delete the state directory: what the share binds there is the user's.
            _share?.UnmountAll();
            if (Network is not null && !_networkTried)
            {
                _networkTried = true;
                await Network.TearDownAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await RestoreNetworkAsync(state, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            // The journal in the state directory is what a later try works from: it must not go with the VM.
            await _vm.CloseAsync().ConfigureAwait(false);
            throw;
        }
        await _vm.DisposeAsync().ConfigureAwait(false);
        StateDirectory.Delete(state);
        _finished = true;
        _gate.Dispose();
    }

    /// <summary>
    /// Restores the pod netns of a sandbox whose VM is gone without <see cref="DestroyAsync"/> (killed, powered
    /// off by itself, or its owner died), from the teardown journal in <paramref name="stateDirectory"/>: taps,
    /// qdiscs and filters deleted, the veth's MAC, addresses, routes and neighbours back, passt stopped. Returns
    /// false when the sandbox had no pod network (or it was restored already). Call it before deleting the state
    /// directory, and never while the VM runs.
    /// </summary>
    /// <exception cref="PodNetworkException">Some steps failed; the message names them, and the journal keeps them for another try.</exception>
    public static Task<bool> RestoreNetworkAsync(string stateDirectory, CancellationToken cancellationToken = default) =>
        NetworkEndpoint.TearDownFromJournalAsync(Path.Combine(stateDirectory, NetworkJournalFileName), cancellationToken);

    /// <summary>
    /// Removes a sandbox that no process holds any more (its owner died, or its agent does not answer), by its
    /// state directory alone: its qemu, if it still runs, is ended (<see cref="QemuVm.KillAsync"/>: checked to be
    /// this VM's qemu and signalled through a pidfd, so a recycled pid is never hit), then everything still mounted
    /// in the state directory (the share's binds of rootfs directories and volumes) is detached, then the pod network
    /// is restored from the journal (<see cref="RestoreNetworkAsync"/>), then the state directory is deleted, never
    /// through a mount and never following a symlink (<see cref="StateDirectory.Delete"/>).
    /// </summary>
    /// <exception cref="VmException">qemu could not be ended; nothing else was done.</exception>
    /// <exception cref="ShareException">A mount in the state directory would not go; the directory stays.</exception>
    /// <exception cref="PodNetworkException">The VM is gone, but restoring the pod netns failed: the state directory
    /// stays with the journal, for another try.</exception>
    public static async Task RemoveStaleAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        await QemuVm.KillAsync(stateDirectory, cancellationToken).ConfigureAwait(false);
        StateDirectory.UnmountAll(stateDirectory);
        await RestoreNetworkAsync(stateDirectory, cancellationToken).ConfigureAwait(false);
        StateDirectory.Delete(stateDirectory);
    }

    /// <summary>
    /// Lets go of what this object holds on the host, asking the agent nothing (no RemoveContainer, no
    /// DestroySandbox). A VM this object started and did not detach cannot outlive its starter anyway, so it is
    /// not left to chance: qemu is stopped, the pod network restored and the state directory deleted. If that
    /// restore fails, nothing is thrown; the state directory keeps the journal for <see cref="RestoreNetworkAsync"/>
    /// (likewise a share mount that would not go: the state directory stays for <see cref="RemoveStaleAsync"/>).
    /// A detached or attached sandbox is only disconnected: its VM, its containers and its state stay.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_finished)
        {
            return;
        }
        if (!_ownsVm && !_vmGone)
        {
            _finished = true;
            _containers.Clear();
            await _vm.CloseAsync().ConfigureAwait(false);
            _gate.Dispose();
            return;
        }
        _tearingDown = true;
        try
        {
            if (!_vmGone)
            {
                await _vm.StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                _vmGone = true;
            }
            await FinishTeardownAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PodNetworkException or ShareException)
        {
            // Kept for a later restore (see above), or a share mount that would not go (the state directory is then
            // left, never deleted through it; RemoveStaleAsync finishes): disposing does not throw for either.
        }
    }
}
