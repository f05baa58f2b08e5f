namespace KataAgent.Host.Vm;

/// <summary>
/// A virtio-net NIC and its qemu backend. Each NIC sits alone on a pcie-root-port, so its PCI path
/// is known before boot (<see cref="QemuVm.NetworkPciPaths"/>) and the agent can wait for it.
/// </summary>
public sealed record QemuNetworkDevice
{
    /// <summary>The guest NIC's MAC address ("aa:bb:cc:dd:ee:ff").</summary>
    public required string Mac { get; init; }

    /// <summary>
    /// qemu's <c>-netdev</c> value without its id, e.g. <c>tap,ifname=tap0_kata,script=no,downscript=no</c>
    /// or <c>stream,server=off,addr.type=unix,addr.path=/run/passt.sock</c>.
    /// </summary>
    public required string Netdev { get; init; }

    /// <summary>
    /// A character device qemu must get open as a file descriptor (a macvtap's <c>/dev/tapN</c>: qemu
    /// cannot open one by name); the netdev is then given <c>fd=N</c>.
    /// </summary>
    public string? OpenFile { get; init; }

    /// <summary>
    /// Queue pairs: more than one makes the NIC multi-queue (<c>mq=on</c>, <c>vectors=2N+2</c>, the tap opened N times
    /// with <c>queues=N</c>), so that each vCPU can send and receive on its own queue. Only a tap netdev opened by name
    /// can have several (its tap must have been made with IFF_MULTI_QUEUE).
    /// </summary>
    public int Queues { get; init; } = 1;
}
