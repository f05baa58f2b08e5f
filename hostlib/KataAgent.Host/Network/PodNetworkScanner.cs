using System.Net.Sockets;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Protocols.Types;
using ProtoIPAddress = KataAgent.Protocols.Types.IPAddress;

namespace KataAgent.Host.Network;

/// <summary>
/// Reads a pod's network namespace the way Kata's runtime does (scanEndpointsInNs): every link
/// with an address except loopback, the main table's routes except those the kernel made for the
/// addresses (proto kernel: the guest kernel makes its own), and permanent neighbour entries.
/// </summary>
public static class PodNetworkScanner
{
    /// <summary>Scans the namespace at <paramref name="namespacePath"/> (e.g. /var/run/netns/NAME).</summary>
    /// <exception cref="PodNetworkException">The path does not exist or is not a network namespace.</exception>
    public static PodNetwork Scan(string namespacePath)
    {
        using var rtnl = Open(namespacePath);
        var links = rtnl.ListLinks();
        var addresses = rtnl.ListAddresses();
        var interfaces = new List<PodInterface>();
        foreach (var link in links.Where(l => !l.IsLoopback).OrderBy(l => l.Index))
        {
            // Link-local IPv6 addresses are the kernel's own, per link; the guest makes its own too.
            var own = addresses.Where(a => a.InterfaceIndex == link.Index && !a.Address.IsIPv6LinkLocal).ToList();
            if (own.Count > 0)
            {
                interfaces.Add(new PodInterface(link, own));
            }
        }
        var names = interfaces.ToDictionary(i => i.Link.Index, i => i.Name);

        var routes = new List<Route>();
        foreach (var route in rtnl.ListRoutes())
        {
            if (route.Protocol == LinuxRtnetlink.RTPROT_KERNEL || route.Type != LinuxRtnetlink.RTN_UNICAST
                || !names.TryGetValue(route.OutputInterface, out string? device)
                || (route.Destination?.IsIPv6LinkLocal ?? false))
            {
                continue;
            }
            routes.Add(new Route
            {
                Dest = route.Destination is null ? "" : $"{route.Destination}/{route.DestinationPrefixLength}",
                Gateway = route.Gateway?.ToString() ?? "",
                Device = device,
                Source = route.PreferredSource?.ToString() ?? "",
                Scope = route.Scope,
                Family = route.Family == AddressFamily.InterNetworkV6 ? IPFamily.V6 : IPFamily.V4,
                Flags = route.Flags,
                Mtu = route.Mtu ?? 0,
            });
        }

        var neighbours = new List<ARPNeighbor>();
        foreach (var neighbour in rtnl.ListNeighbours())
        {
            if ((neighbour.State & LinuxNeighbour.NUD_PERMANENT) == 0 || neighbour.LinkLayerAddress is not { Length: 6 } mac
                || !names.TryGetValue(neighbour.InterfaceIndex, out string? device))
            {
                continue;
            }
            neighbours.Add(new ARPNeighbor
            {
                ToIPAddress = new ProtoIPAddress
                {
                    Family = neighbour.Destination.AddressFamily == AddressFamily.InterNetworkV6 ? IPFamily.V6 : IPFamily.V4,
                    Address = neighbour.Destination.ToString(),
                },
                Device = device,
                Lladdr = MacAddress.Format(mac),
                State = neighbour.State,
                Flags = neighbour.Flags,
            });
        }
        return new PodNetwork(namespacePath, interfaces, routes, neighbours);
    }

    /// <summary>A netlink handle inside the namespace, with the two ways a path can be wrong said plainly.</summary>
    internal static Rtnetlink Open(string namespacePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespacePath);
        if (!File.Exists(namespacePath))
        {
            throw new PodNetworkException($"the network namespace {namespacePath} does not exist");
        }
        try
        {
            return Rtnetlink.OpenInNamespace(namespacePath);
        }
        catch (LinuxException e) when (e.Errno == Errno.EINVAL)
        {
            throw new PodNetworkException($"{namespacePath} is not a network namespace", e);
        }
        catch (LinuxException e) when (e.Errno is Errno.EACCES or Errno.EPERM)
        {
            throw new PodNetworkException($"cannot enter the network namespace {namespacePath}: {e.Message} (needs CAP_SYS_ADMIN)", e);
        }
    }
}
