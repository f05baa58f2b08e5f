using KataAgent.Protocols.Types;

namespace KataAgent.Host.Network;

/// <summary>
/// What <see cref="PodNetworkScanner"/> found in a pod's network namespace: the interfaces to
/// carry into the VM, and the routes and static neighbours the agent gets for them (in the
/// agent's own messages, device = the pod interface's name, which the guest NIC is renamed to).
/// </summary>
public sealed record PodNetwork(
    string NamespacePath,
    IReadOnlyList<PodInterface> Interfaces,
    IReadOnlyList<Route> Routes,
    IReadOnlyList<ARPNeighbor> Neighbours);
