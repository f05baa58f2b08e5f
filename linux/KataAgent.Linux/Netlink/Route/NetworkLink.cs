using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>A network interface as RTM_NEWLINK describes it.</summary>
public sealed record NetworkLink
{
    public required int Index { get; init; }

    public required string Name { get; init; }

    /// <summary>IFF_* flags.</summary>
    public uint Flags { get; init; }

    /// <summary>ARPHRD_* type.</summary>
    public ushort Type { get; init; }

    public uint Mtu { get; init; }

    /// <summary>IFLA_MIN_MTU / IFLA_MAX_MTU, when the kernel reports them.</summary>
    public uint? MinMtu { get; init; }

    public uint? MaxMtu { get; init; }

    /// <summary>IFLA_ADDRESS: the MAC for Ethernet links; null for links without one.</summary>
    public byte[]? Address { get; init; }

    /// <summary>IFLA_INFO_KIND: "veth", "bridge", "dummy", "tun", …; null for physical NICs and lo.</summary>
    public string? Kind { get; init; }

    /// <summary>IFLA_MASTER: the bridge (or bond) this link is enslaved to.</summary>
    public int? MasterIndex { get; init; }

    /// <summary>IFLA_LINK: the peer or lower device (a veth's peer, possibly in another namespace).</summary>
    public int? LinkIndex { get; init; }

    /// <summary>IFLA_OPERSTATE (IF_OPER_*).</summary>
    public byte OperState { get; init; }

    public uint? TxQueueLength { get; init; }

    public LinkStatistics? Statistics { get; init; }

    public bool IsUp => (Flags & LinuxIf.IFF_UP) != 0;

    public bool IsLoopback => (Flags & LinuxIf.IFF_LOOPBACK) != 0;

    public bool IsNoArp => (Flags & LinuxIf.IFF_NOARP) != 0;

    /// <summary>The MAC as "aa:bb:cc:dd:ee:ff", or "" without one.</summary>
    public string MacText => Address is null ? "" : MacAddress.Format(Address);
}
