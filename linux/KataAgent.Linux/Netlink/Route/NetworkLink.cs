using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>A network interface as RTM_NEWLINK describes it.</summary>
public sealed record NetworkLink
{
    /// <summary>The interface index.</summary>
    public required int Index { get; init; }

    /// <summary>IFLA_IFNAME.</summary>
    public required string Name { get; init; }

    /// <summary>IFF_* flags.</summary>
    public uint Flags { get; init; }

    /// <summary>ARPHRD_* type.</summary>
    public ushort Type { get; init; }

    /// <summary>IFLA_MTU.</summary>
    public uint Mtu { get; init; }

    /// <summary>IFLA_MIN_MTU / IFLA_MAX_MTU, when the kernel reports them.</summary>
    public uint? MinMtu { get; init; }

    /// <summary>IFLA_MAX_MTU, when the kernel reports it.</summary>
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

    /// <summary>IFLA_TXQLEN, when present.</summary>
    public uint? TxQueueLength { get; init; }

    /// <summary>IFLA_STATS64, when present.</summary>
    public LinkStatistics? Statistics { get; init; }

    /// <summary>IFF_UP: administratively up.</summary>
    public bool IsUp => (Flags & LinuxIf.IFF_UP) != 0;

    /// <summary>IFF_LOOPBACK.</summary>
    public bool IsLoopback => (Flags & LinuxIf.IFF_LOOPBACK) != 0;

    /// <summary>IFF_NOARP.</summary>
    public bool IsNoArp => (Flags & LinuxIf.IFF_NOARP) != 0;

    /// <summary>The MAC as "aa:bb:cc:dd:ee:ff", or "" without one.</summary>
    public string MacText => Address is null ? "" : MacAddress.Format(Address);
}
