using System.Net;
using System.Net.Sockets;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>Routes: list per table, add, replace, delete.</summary>
internal sealed partial class Rtnetlink
{
    /// <summary>Routes of one family (or both) in <paramref name="table"/> (null: every table).</summary>
    public IReadOnlyList<RouteEntry> ListRoutes(AddressFamily family = AddressFamily.Unspecified, uint? table = LinuxRtnetlink.RT_TABLE_MAIN)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETROUTE, 0).Header(new RtMsg { rtm_family = NetlinkMessageBuilder.Family(family) });
        return _socket.Dump(request, "list routes")
            .Where(m => m.Type == LinuxRtnetlink.RTM_NEWROUTE)
            .Select(ParseRoute)
            .Where(r => table is null || r.Table == table)
            .ToList();
    }

    /// <summary>Adds a route; EEXIST if one with the same key is there.</summary>
    public void AddRoute(RouteEntry route) =>
        _socket.Execute(RouteRequest(LinuxRtnetlink.RTM_NEWROUTE, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, route), $"add route {Describe(route)}");

    /// <summary>Adds a route or replaces the one with the same key.</summary>
    public void ReplaceRoute(RouteEntry route) =>
        _socket.Execute(RouteRequest(LinuxRtnetlink.RTM_NEWROUTE, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_REPLACE, route), $"replace route {Describe(route)}");

    public void DeleteRoute(RouteEntry route) =>
        _socket.Execute(RouteRequest(LinuxRtnetlink.RTM_DELROUTE, 0, route), $"delete route {Describe(route)}");

    /// <summary>Decodes an RTM_NEWROUTE message.</summary>
    public static RouteEntry ParseRoute(NetlinkMessage message)
    {
        var header = message.Header<RtMsg>();
        var attributes = message.Attributes<RtMsg>();
        var metrics = attributes.Nested(LinuxRtnetlink.RTA_METRICS);
        return new RouteEntry
        {
            Family = FamilyOf(header.rtm_family),
            Destination = attributes.IPAddress(LinuxRtnetlink.RTA_DST),
            DestinationPrefixLength = header.rtm_dst_len,
            Gateway = attributes.IPAddress(LinuxRtnetlink.RTA_GATEWAY),
            OutputInterface = (int)(attributes.U32(LinuxRtnetlink.RTA_OIF) ?? 0),
            PreferredSource = attributes.IPAddress(LinuxRtnetlink.RTA_PREFSRC),
            Scope = header.rtm_scope,
            Protocol = header.rtm_protocol,
            Table = attributes.U32(LinuxRtnetlink.RTA_TABLE) ?? header.rtm_table,
            Type = header.rtm_type,
            Flags = header.rtm_flags,
            Priority = attributes.U32(LinuxRtnetlink.RTA_PRIORITY),
            Mtu = metrics.U32(LinuxRtnetlink.RTAX_MTU),
        };
    }

    /// <summary>The rtm_flags a request may carry: the next-hop flags a user sets.</summary>
    public const uint RequestableFlags = LinuxRtnetlink.RTNH_F_ONLINK | LinuxRtnetlink.RTNH_F_PERVASIVE;

    private static string Describe(RouteEntry route) =>
        $"{route.DestinationText}{(route.Gateway is null ? "" : $" via {route.Gateway}")}{(route.OutputInterface == 0 ? "" : $" dev {route.OutputInterface}")}{(route.Table == LinuxRtnetlink.RT_TABLE_MAIN ? "" : $" table {route.Table}")}";

    private static NetlinkMessageBuilder RouteRequest(ushort type, ushort flags, RouteEntry route)
    {
        if (route.Family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"route {route.DestinationText}: family must be IPv4 or IPv6, not {route.Family}", nameof(route));
        }
        CheckFamily(route, route.Destination, "destination");
        CheckFamily(route, route.Gateway, "gateway");
        CheckFamily(route, route.PreferredSource, "preferred source");
        if (route.Destination is not null)
        {
            CheckPrefix(route.Destination, route.DestinationPrefixLength, $"route {route.DestinationText}");
        }
        else if (route.DestinationPrefixLength != 0)
        {
            throw new ArgumentException($"route: prefix length {route.DestinationPrefixLength} without a destination", nameof(route));
        }
        var header = new RtMsg
        {
            rtm_family = NetlinkMessageBuilder.Family(route.Family),
            rtm_dst_len = (byte)route.DestinationPrefixLength,
            rtm_table = route.Table < 256 ? (byte)route.Table : (byte)LinuxRtnetlink.RT_TABLE_UNSPEC,
            rtm_protocol = route.Protocol,
            rtm_scope = route.Scope,
            rtm_type = route.Type,
            // Dumps report state in rtm_flags too (LINKDOWN, DEAD, OFFLOAD); the kernel refuses
            // those in requests, so a listed route can be deleted or re-added as it came.
            rtm_flags = route.Flags & RequestableFlags,
        };
        var request = new NetlinkMessageBuilder(type, flags).Header(header);
        if (route.Table >= 256)
        {
            request.Attribute(LinuxRtnetlink.RTA_TABLE, route.Table);
        }
        if (route.Destination is not null)
        {
            request.Attribute(LinuxRtnetlink.RTA_DST, route.Destination);
        }
        if (route.Gateway is not null)
        {
            request.Attribute(LinuxRtnetlink.RTA_GATEWAY, route.Gateway);
        }
        if (route.OutputInterface != 0)
        {
            request.Attribute(LinuxRtnetlink.RTA_OIF, route.OutputInterface);
        }
        if (route.PreferredSource is not null)
        {
            request.Attribute(LinuxRtnetlink.RTA_PREFSRC, route.PreferredSource);
        }
        if (route.Priority is { } priority)
        {
            request.Attribute(LinuxRtnetlink.RTA_PRIORITY, priority);
        }
        // Metrics are not part of a route's key, but IPv4 compares them on delete: leave them
        // out there so a route is deleted whatever its MTU became.
        if (route.Mtu is { } mtu && type != LinuxRtnetlink.RTM_DELROUTE)
        {
            request.BeginNested(LinuxRtnetlink.RTA_METRICS).Attribute(LinuxRtnetlink.RTAX_MTU, mtu).EndNested();
        }
        return request;
    }

    private static void CheckFamily(RouteEntry route, IPAddress? address, string what)
    {
        if (address is not null && address.AddressFamily != route.Family)
        {
            throw new ArgumentException($"route {route.DestinationText}: {what} {address} is not {(route.Family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")}", nameof(route));
        }
    }
}
