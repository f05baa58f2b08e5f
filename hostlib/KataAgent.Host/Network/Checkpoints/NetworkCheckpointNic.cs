namespace KataAgent.Host.Network.Checkpoints;

/// <summary>
/// One guest NIC as a checkpoint keeps it: what the guest believes about it (its name, MAC, addresses and MTU live
/// in the guest's memory and come back with it) and what qemu's device must look like again for the saved device
/// state to load (the MAC and the queue pairs). The backend (tap, macvtap, passt socket) is not kept: it is made anew
/// in the netns the VM is restored into.
/// </summary>
public sealed record NetworkCheckpointNic
{
    /// <summary>The pod interface the NIC stands in for (eth0): the target netns must have one of that name.</summary>
    public required string Name { get; init; }

    /// <summary>The guest NIC's MAC ("aa:bb:cc:dd:ee:ff"), which the restored device gets again.</summary>
    public required string GuestMac { get; init; }

    /// <summary>The MTU the guest NIC was given (the pod interface's).</summary>
    public required uint Mtu { get; init; }

    /// <summary>The pod interface's addresses as "10.88.0.2/24": the pod IP the guest keeps.</summary>
    public required IReadOnlyList<string> Addresses { get; init; }

    /// <summary>The NIC's queue pairs (<see cref="Vm.QemuNetworkDevice.Queues"/>).</summary>
    public int Queues { get; init; } = 1;

    /// <summary>The link type the agent was told ("tap", "macvtap", "passt").</summary>
    public required string Type { get; init; }
}
