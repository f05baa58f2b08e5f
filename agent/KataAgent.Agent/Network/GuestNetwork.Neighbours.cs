using KataAgent.Agent.Errors;
using System.Net.Sockets;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Protocols.Types;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Network;

/// <summary>AddARPNeighbors.</summary>
public sealed partial class GuestNetwork
{
    /// <summary>Adds (or replaces) static neighbour entries; state 0 means NUD_PERMANENT, as Kata.</summary>
    public Task<bool> AddArpNeighborsAsync(IReadOnlyList<ARPNeighbor> neighbors, CancellationToken cancellationToken) =>
        ExclusiveAsync(() =>
        {
            var links = Rtnl.ListLinks();
            var wanted = new List<NeighbourEntry>();
            for (int i = 0; i < neighbors.Count; i++)
            {
                wanted.Add(ValidateNeighbour(neighbors[i], $"neighbors.ARPNeighbors[{i}]", links));
            }
            var log = new RollbackLog(_logger);
            try
            {
                for (int i = 0; i < wanted.Count; i++)
                {
                    var entry = wanted[i];
                    var previous = Rtnl.ListNeighbours(entry.InterfaceIndex, entry.Destination.AddressFamily).FirstOrDefault(n => n.Destination.Equals(entry.Destination));
                    Step($"neighbors.ARPNeighbors[{i}]", () => Rtnl.ReplaceNeighbour(entry));
                    log.Add($"neighbour {entry}", previous is { LinkLayerAddress: not null } ? () => Rtnl.ReplaceNeighbour(previous) : () => Rtnl.DeleteNeighbour(entry));
                }
            }
            catch
            {
                log.RollBack();
                throw;
            }
            _logger.LogInformation("{Count} neighbour(s) added", wanted.Count);
            return Task.FromResult(true);
        }, cancellationToken);

    private static NeighbourEntry ValidateNeighbour(ARPNeighbor neighbor, string field, IReadOnlyList<NetworkLink> links)
    {
        var (address, _) = ParseAddress(neighbor.ToIPAddress, $"{field}.toIPAddress");
        if (neighbor.Device.Length == 0)
        {
            throw AgentException.InvalidArgument($"{field}.device", "is empty");
        }
        var link = links.FirstOrDefault(l => l.Name == neighbor.Device)
            ?? throw AgentException.InvalidArgument($"{field}.device", $"no interface is named \"{neighbor.Device}\"");
        byte[]? lladdr = null;
        if (neighbor.Lladdr.Length > 0 && !MacAddress.TryParse(neighbor.Lladdr, out lladdr))
        {
            throw AgentException.InvalidArgument($"{field}.lladdr", $"\"{neighbor.Lladdr}\" is not a MAC address");
        }
        if (neighbor.State is < 0 or > ushort.MaxValue)
        {
            throw AgentException.InvalidArgument($"{field}.state", $"{neighbor.State} is not a NUD state");
        }
        if (neighbor.Flags is < 0 or > byte.MaxValue)
        {
            throw AgentException.InvalidArgument($"{field}.flags", $"{neighbor.Flags} is not an NTF flag set");
        }
        return new NeighbourEntry
        {
            InterfaceIndex = link.Index,
            Destination = address,
            LinkLayerAddress = lladdr,
            State = neighbor.State == 0 ? LinuxNeighbour.NUD_PERMANENT : (ushort)neighbor.State,
            Flags = (byte)neighbor.Flags,
        };
    }
}
