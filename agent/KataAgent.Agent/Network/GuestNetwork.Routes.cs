using KataAgent.Agent.Errors;
using System.Net.Sockets;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Protocols.Types;
using Microsoft.Extensions.Logging;
using ProtoRoute = KataAgent.Protocols.Types.Route;

namespace KataAgent.Agent.Network;

/// <summary>UpdateRoutes and ListRoutes (the main table, IPv4 and IPv6).</summary>
public sealed partial class GuestNetwork
{
    public Task<List<ProtoRoute>> ListRoutesAsync(CancellationToken cancellationToken) =>
        ExclusiveAsync(() => Task.FromResult(ListMainRoutes()), cancellationToken);

    /// <summary>
    /// Replaces the routes of the guest's interfaces with <paramref name="routes"/>: every route
    /// in the main table that the kernel did not make itself (proto kernel) and that is not on
    /// loopback is deleted, then the new ones are added, routes without a gateway first so the
    /// gateways of the others resolve. Returns the table as it now is.
    /// </summary>
    public Task<List<ProtoRoute>> UpdateRoutesAsync(IReadOnlyList<ProtoRoute> routes, CancellationToken cancellationToken) =>
        ExclusiveAsync(() =>
        {
            var links = Rtnl.ListLinks();
            var wanted = routes.Select((route, i) => (Index: i, Entry: ValidateRoute(route, $"routes.Routes[{i}]", links))).ToList();
            var loopbacks = links.Where(l => l.IsLoopback).Select(l => l.Index).ToHashSet();
            var old = Rtnl.ListRoutes()
                .Where(r => r.Protocol != LinuxRtnetlink.RTPROT_KERNEL && r.Type == LinuxRtnetlink.RTN_UNICAST && r.OutputInterface != 0 && !loopbacks.Contains(r.OutputInterface))
                .ToList();

            var log = new RollbackLog(_logger);
            try
            {
                foreach (var route in old)
                {
                    Step("routes", () => Rtnl.DeleteRoute(route));
                    log.Add($"delete route {route}", () => Rtnl.AddRoute(route));
                }
                foreach (var (i, route) in wanted.OrderBy(w => w.Entry.Gateway is null ? 0 : 1))
                {
                    try
                    {
                        Step($"routes.Routes[{i}]", () => Rtnl.AddRoute(route));
                        log.Add($"add route {route}", () => Rtnl.DeleteRoute(route));
                    }
                    catch (AgentException) when (Exists(route))
                    {
                        // Already there (e.g. one the kernel made for an address): nothing to do, as Kata.
                    }
                }
            }
            catch
            {
                log.RollBack();
                throw;
            }
            _logger.LogInformation("routes updated: {Count} replaced by {New}", old.Count, wanted.Count);
            return Task.FromResult(ListMainRoutes());
        }, cancellationToken);

    private bool Exists(RouteEntry route) =>
        Rtnl.ListRoutes(route.Family).Any(r => r.DestinationText == route.DestinationText && Equals(r.Gateway, route.Gateway) && r.OutputInterface == route.OutputInterface);

    private static RouteEntry ValidateRoute(ProtoRoute route, string field, IReadOnlyList<NetworkLink> links)
    {
        if (route.Device.Length == 0)
        {
            throw AgentException.InvalidArgument($"{field}.device", "is empty; every route names its interface");
        }
        var link = links.FirstOrDefault(l => l.Name == route.Device)
            ?? throw AgentException.InvalidArgument($"{field}.device", $"no interface is named \"{route.Device}\"");
        var family = route.Family == IPFamily.V6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        if (route.Family is not (IPFamily.V4 or IPFamily.V6))
        {
            throw AgentException.InvalidArgument($"{field}.family", $"{(int)route.Family} is neither v4 (0) nor v6 (1)");
        }
        System.Net.IPAddress? destination = null;
        int prefix = 0;
        if (route.Dest.Length > 0 && route.Dest != "default")
        {
            int slash = route.Dest.IndexOf('/');
            string address = slash < 0 ? route.Dest : route.Dest[..slash];
            if (!System.Net.IPAddress.TryParse(address, out destination) || address.Contains('%'))
            {
                throw AgentException.InvalidArgument($"{field}.dest", $"\"{route.Dest}\" is not a CIDR (address/prefix)");
            }
            int max = destination.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
            prefix = max;
            if (slash >= 0 && (!int.TryParse(route.Dest[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > max))
            {
                throw AgentException.InvalidArgument($"{field}.dest", $"\"{route.Dest}\" has a bad prefix length (0..{max})");
            }
            if (destination.AddressFamily != family)
            {
                throw AgentException.InvalidArgument($"{field}.family", $"is {route.Family} but dest {route.Dest} is not");
            }
            if (prefix == 0)
            {
                destination = null; // 0.0.0.0/0 is the default route
            }
        }
        var gateway = ParseRouteAddress(route.Gateway, $"{field}.gateway", family);
        var source = ParseRouteAddress(route.Source, $"{field}.source", family);
        if (route.Scope > byte.MaxValue)
        {
            throw AgentException.InvalidArgument($"{field}.scope", $"{route.Scope} is not a scope (0..255)");
        }
        if ((route.Flags & ~Rtnetlink.RequestableFlags) != 0)
        {
            throw AgentException.InvalidArgument($"{field}.flags", $"0x{route.Flags:x} has bits other than RTNH_F_ONLINK (0x4) and RTNH_F_PERVASIVE (0x2)");
        }
        return new RouteEntry
        {
            Family = family,
            Destination = destination,
            DestinationPrefixLength = destination is null ? 0 : prefix,
            Gateway = gateway,
            OutputInterface = link.Index,
            PreferredSource = source,
            Scope = (byte)route.Scope,
            Flags = route.Flags,
            Mtu = route.Mtu == 0 ? null : route.Mtu,
        };
    }

    /// <summary>A gateway or source: an address of the route's family ("" for none; a full-length prefix is tolerated).</summary>
    private static System.Net.IPAddress? ParseRouteAddress(string text, string field, AddressFamily family)
    {
        if (text.Length == 0)
        {
            return null;
        }
        string address = text;
        int slash = text.IndexOf('/');
        if (slash >= 0)
        {
            string prefix = text[(slash + 1)..];
            address = text[..slash];
            if (prefix != (family == AddressFamily.InterNetworkV6 ? "128" : "32"))
            {
                throw AgentException.InvalidArgument(field, $"\"{text}\" is a network; an address is expected");
            }
        }
        if (!System.Net.IPAddress.TryParse(address, out var parsed) || address.Contains('%'))
        {
            throw AgentException.InvalidArgument(field, $"\"{text}\" is not an IP address");
        }
        if (parsed.AddressFamily != family)
        {
            throw AgentException.InvalidArgument(field, $"{text} is not {(family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} like the route's family");
        }
        return parsed;
    }

    private List<ProtoRoute> ListMainRoutes()
    {
        var names = Rtnl.ListLinks().ToDictionary(l => l.Index, l => l.Name);
        return Rtnl.ListRoutes()
            .Where(r => r.Type == LinuxRtnetlink.RTN_UNICAST)
            .Select(r => new ProtoRoute
            {
                Dest = r.Destination is null ? "" : $"{r.Destination}/{r.DestinationPrefixLength}",
                Gateway = r.Gateway?.ToString() ?? "",
                Device = names.GetValueOrDefault(r.OutputInterface, ""),
                Source = r.PreferredSource?.ToString() ?? "",
                Scope = r.Scope,
                Family = r.Family == AddressFamily.InterNetworkV6 ? IPFamily.V6 : IPFamily.V4,
                Flags = r.Flags,
                Mtu = r.Mtu ?? 0,
            })
            .ToList();
    }
}
