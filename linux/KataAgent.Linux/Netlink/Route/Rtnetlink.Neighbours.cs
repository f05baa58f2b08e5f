using System.Net.Sockets;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>Neighbours (ARP and NDP): list, add or replace, delete.</summary>
internal sealed partial class Rtnetlink
{
    public IReadOnlyList<NeighbourEntry> ListNeighbours(int? interfaceIndex = null, AddressFamily family = AddressFamily.Unspecified)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETNEIGH, 0).Header(new NdMsg { ndm_family = NetlinkMessageBuilder.Family(family) });
        return _socket.Dump(request, "list neighbours")
            .Where(m => m.Type == LinuxRtnetlink.RTM_NEWNEIGH)
            .Select(ParseNeighbour)
            .Where(n => interfaceIndex is null || n.InterfaceIndex == interfaceIndex)
            .ToList();
    }

    /// <summary>Adds a neighbour, replacing an entry for the same address (ip neigh replace).</summary>
    public void ReplaceNeighbour(NeighbourEntry neighbour) =>
        _socket.Execute(NeighbourRequest(LinuxRtnetlink.RTM_NEWNEIGH, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_REPLACE, neighbour), $"replace neighbour {neighbour} on link {neighbour.InterfaceIndex}");

    /// <summary>Adds a neighbour; EEXIST if there is one for the address.</summary>
    public void AddNeighbour(NeighbourEntry neighbour) =>
        _socket.Execute(NeighbourRequest(LinuxRtnetlink.RTM_NEWNEIGH, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, neighbour), $"add neighbour {neighbour} on link {neighbour.InterfaceIndex}");

    public void DeleteNeighbour(NeighbourEntry neighbour) =>
        _socket.Execute(NeighbourRequest(LinuxRtnetlink.RTM_DELNEIGH, 0, neighbour), $"delete neighbour {neighbour.Destination} on link {neighbour.InterfaceIndex}");

    /// <summary>Decodes an RTM_NEWNEIGH message.</summary>
    public static NeighbourEntry ParseNeighbour(NetlinkMessage message)
    {
        var header = message.Header<NdMsg>();
        var attributes = message.Attributes<NdMsg>();
        return new NeighbourEntry
        {
            InterfaceIndex = header.ndm_ifindex,
            Destination = attributes.IPAddress(LinuxNeighbour.NDA_DST) ?? throw new NetlinkFormatException($"RTM_NEWNEIGH on link {header.ndm_ifindex} has no NDA_DST"),
            LinkLayerAddress = attributes.Bytes(LinuxNeighbour.NDA_LLADDR),
            State = header.ndm_state,
            Flags = header.ndm_flags,
        };
    }

    private static NetlinkMessageBuilder NeighbourRequest(ushort type, ushort flags, NeighbourEntry neighbour)
    {
        var header = new NdMsg
        {
            ndm_family = NetlinkMessageBuilder.Family(neighbour.Destination.AddressFamily),
            ndm_ifindex = neighbour.InterfaceIndex,
            ndm_state = neighbour.State,
            ndm_flags = neighbour.Flags,
        };
        var request = new NetlinkMessageBuilder(type, flags).Header(header).Attribute(LinuxNeighbour.NDA_DST, neighbour.Destination);
        if (neighbour.LinkLayerAddress is { } lladdr)
        {
            request.Attribute(LinuxNeighbour.NDA_LLADDR, lladdr);
        }
        return request;
    }
}
