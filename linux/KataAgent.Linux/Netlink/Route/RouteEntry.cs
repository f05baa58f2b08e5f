using System.Net;
using System.Net.Sockets;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>
/// A route as RTM_NEWROUTE describes it; also the request to add, replace or delete one. The
/// defaults are what ip-route(8) uses: main table, protocol boot, universe scope, unicast.
/// </summary>
internal sealed record RouteEntry
{
    public required AddressFamily Family { get; init; }

    /// <summary>The destination network; null for the default route.</summary>
    public IPAddress? Destination { get; init; }

    public int DestinationPrefixLength { get; init; }

    public IPAddress? Gateway { get; init; }

    /// <summary>RTA_OIF; 0 for none.</summary>
    public int OutputInterface { get; init; }

    /// <summary>RTA_PREFSRC: the source address for traffic this route carries.</summary>
    public IPAddress? PreferredSource { get; init; }

    public byte Scope { get; init; } = LinuxRtnetlink.RT_SCOPE_UNIVERSE;

    public byte Protocol { get; init; } = LinuxRtnetlink.RTPROT_BOOT;

    public uint Table { get; init; } = LinuxRtnetlink.RT_TABLE_MAIN;

    public byte Type { get; init; } = LinuxRtnetlink.RTN_UNICAST;

    /// <summary>rtm_flags: RTNH_F_ONLINK and friends.</summary>
    public uint Flags { get; init; }

    /// <summary>RTA_PRIORITY (the metric).</summary>
    public uint? Priority { get; init; }

    /// <summary>RTAX_MTU inside RTA_METRICS.</summary>
    public uint? Mtu { get; init; }

    public bool IsDefault => Destination is null || DestinationPrefixLength == 0;

    /// <summary>"10.0.0.0/24", or "default".</summary>
    public string DestinationText => Destination is null ? "default" : $"{Destination}/{DestinationPrefixLength}";

    public override string ToString() =>
        DestinationText + (Gateway is null ? "" : $" via {Gateway}") + (OutputInterface == 0 ? "" : $" oif {OutputInterface}");
}
