using KataAgent.Host.Sandboxes;

namespace KataAgent.Host.Checkpoints;

/// <summary>
/// The pod network's part of a checkpoint and a restore: what the endpoint needs recorded, and its wiring in the
/// target namespace (same or another) with the NICs' MACs and the pod IP as they were.
/// </summary>
internal static class CheckpointNetwork
{
    /// <summary>Records what <see cref="RestoreAsync"/> needs of <paramref name="sandbox"/>'s pod network into <paramref name="recordsDirectory"/>; the VM is paused.</summary>
    internal static Task SaveAsync(Sandbox sandbox, string recordsDirectory, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Wires the pod network for the restored VM: with no namespace, the checkpointed NICs as they were; otherwise a
    /// new endpoint in <see cref="CheckpointNetworkContext.NamespacePath"/>.
    /// </summary>
    /// <exception cref="CheckpointException">The network cannot be restored.</exception>
    internal static Task<RestoredNetwork> RestoreAsync(CheckpointNetworkContext context, CancellationToken cancellationToken)
    {
        if (context.NamespacePath is null)
        {
            return Task.FromResult(new RestoredNetwork(null, context.CheckpointedVm.NetworkDevices));
        }
        throw new CheckpointException($"restoring into the pod network namespace {context.NamespacePath} is not supported yet: restore a sandbox that has no pod network");
    }
}
