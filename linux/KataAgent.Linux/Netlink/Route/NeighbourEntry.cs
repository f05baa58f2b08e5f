using System.Net;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>An ARP (IPv4) or NDP (IPv6) neighbour as RTM_NEWNEIGH describes it.</summary>
internal sealed record NeighbourEntry
{
    public required int InterfaceIndex { get; init; }

    public required IPAddress Destination { get; init; }

    /// <summary>NDA_LLADDR: the neighbour's MAC; null for an incomplete entry.</summary>
    public byte[]? LinkLayerAddress { get; init; }

    /// <summary>NUD_* (NUD_PERMANENT for static entries).</summary>
    public ushort State { get; init; } = LinuxNeighbour.NUD_PERMANENT;

    /// <summary>NTF_*.</summary>
    public byte Flags { get; init; }

    public override string ToString() => $"{Destination} lladdr {(LinkLayerAddress is null ? "-" : MacAddress.Format(LinkLayerAddress))} state 0x{State:x}";
}
