using KataAgent.Host.Vm;

namespace KataAgent.Host.Network;

/// <summary>One guest NIC an endpoint made: the pod interface it stands in for, qemu's device, and the link type the agent is told.</summary>
public sealed record EndpointNic(PodInterface Interface, QemuNetworkDevice Device, string Type);
