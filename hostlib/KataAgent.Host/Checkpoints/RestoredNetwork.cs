using KataAgent.Host.Network;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Checkpoints;

/// <summary>The pod network wired again for a restored VM.</summary>
/// <param name="Endpoint">The endpoint set up in the target namespace (torn down with the restored sandbox), or null.</param>
/// <param name="Devices">Every NIC of the restored qemu, in the checkpointed order and with the checkpointed MACs.</param>
internal sealed record RestoredNetwork(NetworkEndpoint? Endpoint, IReadOnlyList<QemuNetworkDevice> Devices);
