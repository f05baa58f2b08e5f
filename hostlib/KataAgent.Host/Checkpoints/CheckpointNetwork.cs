using KataAgent.Host.Network;
using KataAgent.Host.Network.Checkpoints;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Checkpoints;

/// <summary>
/// The pod network's part of a checkpoint and a restore: what the endpoint needs recorded, and its wiring in the
/// target namespace (same or another) with the NICs' MACs and the pod IP as they were.
/// </summary>
internal static class CheckpointNetwork
{
    /// <summary>
    /// The pod network's record in the checkpoint's records directory (a <see cref="NetworkCheckpoint"/>); beside it,
    /// network.json is the source's teardown journal as it was (<see cref="CheckpointDirectory.NetworkJournalFile"/>).
    /// </summary>
    internal const string FileName = "network-checkpoint.json";

    /// <summary>
    /// Records what <see cref="RestoreAsync"/> needs of <paramref name="sandbox"/>'s pod network into <paramref name="recordsDirectory"/>;
    /// the VM is paused. The endpoint this object set up describes itself; an attached sandbox's comes from its network
    /// journal. No pod network, no file.
    /// </summary>
    /// <exception cref="PodNetworkException">The journal cannot be read, or does not record the wiring.</exception>
    internal static Task SaveAsync(Sandbox sandbox, string recordsDirectory, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var checkpoint = sandbox.Network is { } endpoint
            ? NetworkCheckpoint.Of(endpoint)
            : NetworkCheckpoint.FromJournal(Path.Combine(sandbox.Vm.StateDirectory, Sandbox.NetworkJournalFileName));
        checkpoint?.Save(Path.Combine(recordsDirectory, FileName));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Wires the pod network for the restored VM: with no namespace, the checkpointed NICs as they were; otherwise a
    /// new endpoint in <see cref="CheckpointNetworkContext.NamespacePath"/> (checked before anything there changes),
    /// whose devices take the place of the pod's NICs after the caller's own, with the same MACs and queues.
    /// </summary>
    /// <exception cref="CheckpointException">The record does not match the checkpointed VM's NICs.</exception>
    /// <exception cref="PodNetworkException">The target namespace is missing or cannot take the pod's NICs (nothing changed there), or the wiring failed (undone).</exception>
    internal static async Task<RestoredNetwork> RestoreAsync(CheckpointNetworkContext context, CancellationToken cancellationToken)
    {
        string record = Path.Combine(context.RecordsDirectory, FileName);
        var devices = context.CheckpointedVm.NetworkDevices;
        if (context.NamespacePath is null || !File.Exists(record))
        {
            // No pod network was checkpointed: the VM's NICs are the caller's own, as they were.
            return new RestoredNetwork(null, devices);
        }
        var checkpoint = NetworkCheckpoint.Load(record);
        int own = devices.Count - checkpoint.Nics.Count;
        if (own < 0 || !checkpoint.Nics.Select(n => n.GuestMac).SequenceEqual(devices.Skip(own).Select(d => d.Mac), StringComparer.OrdinalIgnoreCase))
        {
            throw new CheckpointException($"{record} does not match the checkpointed VM: its NICs ({string.Join(", ", checkpoint.Nics.Select(n => n.GuestMac))}) are not the VM's last {checkpoint.Nics.Count} of {devices.Count} ({string.Join(", ", devices.Select(d => d.Mac))})");
        }
        var endpoint = await NetworkEndpoint.RestoreAsync(checkpoint, context.NamespacePath, context.StateDirectory, context.JournalPath, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<QemuNetworkDevice> restored = [.. devices.Take(own), .. endpoint.Devices];
        return new RestoredNetwork(endpoint, restored);
    }
}
