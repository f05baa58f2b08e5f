using KataAgent.Host.Vm;

namespace KataAgent.Host.Checkpoints;

/// <summary>What the pod network's restore (<see cref="CheckpointNetwork.RestoreAsync"/>) works from.</summary>
/// <param name="RecordsDirectory">The checkpoint's records directory (what <see cref="CheckpointNetwork.SaveAsync"/> wrote is there).</param>
/// <param name="NamespacePath">The namespace to restore into: the caller's, else the checkpointed one; null when the sandbox had none.</param>
/// <param name="StateDirectory">The restored sandbox's state directory (its network journal goes there).</param>
/// <param name="JournalPath">Where the new endpoint journals its changes.</param>
/// <param name="CheckpointedVm">The VM's options as checkpointed (its NICs, with their MACs, in PCI order).</param>
internal sealed record CheckpointNetworkContext(string RecordsDirectory, string? NamespacePath, string StateDirectory, string JournalPath, QemuOptions CheckpointedVm);
