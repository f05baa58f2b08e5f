using System.Text.Json;
using FluentAssertions;
using Grpc.Core;
using KataAgent.Host;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Protocols.Agent;
using KataAgent.Protocols.Types;
using KataAgent.Tests.Infrastructure;
using Xunit;
using ProtoIPAddress = KataAgent.Protocols.Types.IPAddress;

namespace KataAgent.Tests.Netlink;

/// <summary>
/// The published agent inside a scratch network namespace, driven through the host library:
/// UpdateInterface, UpdateRoutes, ListInterfaces, ListRoutes and AddARPNeighbors, state checked
/// with our codec and with ip -j; bad input leaves the namespace as it was.
/// </summary>
public sealed class AgentNetworkRpcTests : IAsyncLifetime
{
    private const string Mac = "02:42:ac:11:00:05";
    private readonly ScratchNetworkNamespace _ns = new();
    private AgentProcess _agent = null!;
    private AgentClient _client = null!;

    private Rtnetlink Rtnl => _ns.Rtnl;

    public async Task InitializeAsync()
    {
        // The NIC as a guest would see it before the runtime configures it.
        Rtnl.CreateVethPair("ens3", "peer3");
        Rtnl.SetLinkAddress(Rtnl.GetLink("ens3").Index, MacAddress.Parse(Mac));
        // The peer stands for the host side and is not the agent's: without IPv6 it gets no link-local route, which
        // the kernel would add at a moment of its own (linkwatch) once the NIC comes up, racing the route listings.
        HostTools.Run("ip", "netns", "exec", _ns.Name, "sysctl", "-qw", "net.ipv6.conf.peer3.disable_ipv6=1");
        Rtnl.SetLinkUp(Rtnl.GetLink("peer3").Index, true);
        _agent = AgentProcess.StartOnUnixSocketInNetworkNamespace(_ns.Name);
        _client = await _agent.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _agent.DisposeAsync();
        _ns.Dispose();
    }

    private static Interface Eth0(params (string Address, string Mask)[] addresses)
    {
        var result = new Interface { HwAddr = Mac, Name = "eth0", Mtu = 1400, RawFlags = LinuxIf.IFF_NOARP };
        foreach (var (address, mask) in addresses)
        {
            result.IPAddresses.Add(new ProtoIPAddress { Address = address, Mask = mask, Family = address.Contains(':') ? IPFamily.V6 : IPFamily.V4 });
        }
        return result;
    }

    private Task<Interface> UpdateInterface(Interface request) => _client.UpdateInterfaceAsync(new UpdateInterfaceRequest { Interface = request });

    private Task<Routes> UpdateRoutes(params Route[] routes) => _client.UpdateRoutesAsync(new UpdateRoutesRequest { Routes = new Routes { Routes_ = { routes } } });

    [Fact]
    public async Task UpdateInterface_finds_the_nic_by_mac_and_sets_addresses_name_mtu_noarp_and_up()
    {
        Rtnl.AddAddress(Rtnl.GetLink("ens3").Index, System.Net.IPAddress.Parse("192.0.2.50"), 24); // replaced, as Kata does

        var result = await UpdateInterface(Eth0(("10.88.0.5", "16"), ("2001:db8:88::5", "64")));

        result.Name.Should().Be("eth0");
        result.HwAddr.Should().Be(Mac);
        result.Mtu.Should().Be(1400UL);
        (result.RawFlags & (LinuxIf.IFF_NOARP | LinuxIf.IFF_UP)).Should().Be(LinuxIf.IFF_NOARP | LinuxIf.IFF_UP);
        result.IPAddresses.Where(a => !a.Address.StartsWith("fe80")).Select(a => $"{a.Address}/{a.Mask}").Should().BeEquivalentTo("10.88.0.5/16", "2001:db8:88::5/64");

        var link = Rtnl.GetLink("eth0");
        link.MacText.Should().Be(Mac);
        link.Mtu.Should().Be(1400u);
        link.IsUp.Should().BeTrue();
        link.IsNoArp.Should().BeTrue();
        Rtnl.FindLink("ens3").Should().BeNull();
        var ip = _ns.IpJson("addr", "show", "dev", "eth0")[0];
        ip.GetProperty("flags").EnumerateArray().Select(f => f.GetString()).Should().Contain(["UP", "NOARP"]);
        ip.GetProperty("addr_info").EnumerateArray().Where(a => a.GetProperty("scope").GetString() == "global")
            .Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}")
            .Should().BeEquivalentTo("10.88.0.5/16", "2001:db8:88::5/64");
        ip.GetProperty("addr_info").EnumerateArray().Single(a => a.GetProperty("family").GetString() == "inet").GetProperty("broadcast").GetString().Should().Be("10.88.255.255");

        var listed = await _client.ListInterfacesAsync(new ListInterfacesRequest());
        listed.Interfaces_.Select(i => i.Name).Should().BeEquivalentTo("lo", "eth0", "peer3");
        listed.Interfaces_.Single(i => i.Name == "eth0").Should().BeEquivalentTo(result);
    }

    [Fact]
    public async Task UpdateInterface_falls_back_to_the_name_then_sets_the_mac_and_swaps_a_taken_name()
    {
        // A second NIC already holds the wanted name; ours is found by MAC and the two swap names.
        Rtnl.CreateVethPair("eth0", "peer0");
        int holder = Rtnl.GetLink("eth0").Index;
        int target = Rtnl.GetLink("ens3").Index;

        await UpdateInterface(new Interface { HwAddr = Mac, Name = "eth0" });

        Rtnl.GetLink(target).Name.Should().Be("eth0");
        Rtnl.GetLink(holder).Name.Should().Be("ens3");

        // No link has this MAC: the one named eth1 is taken and given the MAC.
        Rtnl.CreateVethPair("eth1", "peer1");
        var byName = await UpdateInterface(new Interface { HwAddr = "02:42:ac:11:00:99", Name = "eth1", IPAddresses = { new ProtoIPAddress { Address = "10.1.1.1", Mask = "24" } } });
        byName.HwAddr.Should().Be("02:42:ac:11:00:99");
        _ns.IpJson("link", "show", "eth1")[0].GetProperty("address").GetString().Should().Be("02:42:ac:11:00:99");
    }

    [Fact]
    public async Task UpdateRoutes_replaces_the_table_adding_link_routes_before_gateways_and_ListRoutes_reads_it_back()
    {
        await UpdateInterface(Eth0(("10.88.0.5", "16"), ("2001:db8:88::5", "64")));
        int index = Rtnl.GetLink("eth0").Index;
        Rtnl.AddRoute(new RouteEntry { Family = System.Net.Sockets.AddressFamily.InterNetwork, Destination = System.Net.IPAddress.Parse("10.250.0.0"), DestinationPrefixLength = 16, OutputInterface = index, Scope = LinuxRtnetlink.RT_SCOPE_LINK });

        var result = await UpdateRoutes(
            new Route { Dest = "", Gateway = "172.31.0.1", Device = "eth0", Mtu = 1300, Family = IPFamily.V4 },
            new Route { Dest = "172.31.0.0/24", Device = "eth0", Scope = LinuxRtnetlink.RT_SCOPE_LINK, Source = "10.88.0.5", Family = IPFamily.V4 },
            new Route { Dest = "10.77.0.0/16", Gateway = "192.0.2.254", Device = "eth0", Flags = LinuxRtnetlink.RTNH_F_ONLINK, Family = IPFamily.V4 },
            new Route { Dest = "2001:db8:99::/48", Gateway = "2001:db8:88::1", Device = "eth0", Family = IPFamily.V6 });

        var v4 = result.Routes_.Where(r => r.Family == IPFamily.V4).ToList();
        v4.Select(r => r.Dest).Should().BeEquivalentTo("", "172.31.0.0/24", "10.77.0.0/16", "10.88.0.0/16");
        v4.Single(r => r.Dest == "").Should().Match<Route>(r => r.Gateway == "172.31.0.1" && r.Mtu == 1300 && r.Device == "eth0");
        v4.Single(r => r.Dest == "172.31.0.0/24").Should().Match<Route>(r => r.Scope == LinuxRtnetlink.RT_SCOPE_LINK && r.Source == "10.88.0.5");
        (v4.Single(r => r.Dest == "10.77.0.0/16").Flags & LinuxRtnetlink.RTNH_F_ONLINK).Should().Be(LinuxRtnetlink.RTNH_F_ONLINK);
        result.Routes_.Should().Contain(r => r.Dest == "2001:db8:99::/48" && r.Gateway == "2001:db8:88::1" && r.Family == IPFamily.V6);
        (await _client.ListRoutesAsync(new ListRoutesRequest())).Routes_.Should().BeEquivalentTo(result.Routes_);

        var ip = _ns.IpJson("-4", "route", "show").EnumerateArray().ToList();
        ip.Select(r => r.GetProperty("dst").GetString()).Should().BeEquivalentTo("default", "172.31.0.0/24", "10.77.0.0/16", "10.88.0.0/16");
        ip.Single(r => r.GetProperty("dst").GetString() == "default").GetProperty("metrics").EnumerateArray().Single().GetProperty("mtu").GetInt32().Should().Be(1300);
        ip.Single(r => r.GetProperty("dst").GetString() == "172.31.0.0/24").GetProperty("protocol").GetString().Should().Be("boot");
    }

    [Fact]
    public async Task AddARPNeighbors_adds_permanent_entries()
    {
        await UpdateInterface(Eth0(("10.88.0.5", "16")));

        await _client.AddARPNeighborsAsync(new AddARPNeighborsRequest
        {
            Neighbors = new ARPNeighbors
            {
                ARPNeighbors_ =
                {
                    new ARPNeighbor { ToIPAddress = new ProtoIPAddress { Address = "10.88.0.1", Family = IPFamily.V4 }, Device = "eth0", Lladdr = "02:42:ac:11:00:01" },
                    new ARPNeighbor { ToIPAddress = new ProtoIPAddress { Address = "10.88.0.2", Family = IPFamily.V4 }, Device = "eth0", Lladdr = "02:42:ac:11:00:02", State = LinuxNeighbour.NUD_PERMANENT },
                },
            },
        });

        // (A NOARP link also gets NUD_NOARP entries for multicast of its own.)
        Rtnl.ListNeighbours(Rtnl.GetLink("eth0").Index).Where(n => n.State == LinuxNeighbour.NUD_PERMANENT).Select(n => n.Destination.ToString())
            .Should().BeEquivalentTo("10.88.0.1", "10.88.0.2");
        _ns.IpJson("neigh", "show", "dev", "eth0", "nud", "permanent").EnumerateArray()
            .Select(n => (n.GetProperty("dst").GetString(), n.GetProperty("lladdr").GetString(), n.GetProperty("state")[0].GetString()))
            .Should().BeEquivalentTo([("10.88.0.1", "02:42:ac:11:00:01", "PERMANENT"), ("10.88.0.2", "02:42:ac:11:00:02", "PERMANENT")]);
    }

    [Fact]
    public async Task Bad_input_is_INVALID_ARGUMENT_naming_the_field_and_changes_nothing()
    {
        await UpdateInterface(Eth0(("10.88.0.5", "16")));
        await UpdateRoutes(new Route { Gateway = "10.88.0.1", Device = "eth0" });
        await _client.AddARPNeighborsAsync(new AddARPNeighborsRequest { Neighbors = new ARPNeighbors { ARPNeighbors_ = { new ARPNeighbor { ToIPAddress = new ProtoIPAddress { Address = "10.88.0.1" }, Device = "eth0", Lladdr = "02:42:ac:11:00:01" } } } });
        string before = Snapshot();
        before.Should().Contain("\"gateway\":\"10.88.0.1\"").And.Contain("\"lladdr\":\"02:42:ac:11:00:01\"");

        await Refused(UpdateInterface(new Interface { HwAddr = "02:00:00:00:00:77", Name = "nosuch0" }), "interface.hwAddr: no interface has MAC 02:00:00:00:00:77 and none is named \"nosuch0\"");
        await Refused(UpdateInterface(new Interface { Name = "nosuch0" }), "interface.name: no interface is named \"nosuch0\"");
        await Refused(UpdateInterface(new Interface { HwAddr = "02:42:zz:11:00:05" }), "interface.hwAddr: \"02:42:zz:11:00:05\" is not a MAC address*");
        await Refused(UpdateInterface(Eth0(("10.88.0.5", "33"))), "interface.IPAddresses[0].mask: prefix length 33 is not in 0..32 for 10.88.0.5");
        await Refused(UpdateInterface(Eth0(("10.88.0.5", "16"), ("10.88.0.300", "16"))), "interface.IPAddresses[1].address: \"10.88.0.300\" is not an IP address");
        var wrongFamily = Eth0(("10.88.0.6", "16"));
        wrongFamily.IPAddresses[0].Family = IPFamily.V6;
        await Refused(UpdateInterface(wrongFamily), "interface.IPAddresses[0].family: is V6 but 10.88.0.6 is V4");
        await Refused(UpdateInterface(Eth0().Also(i => i.Mtu = 70000)), "interface.mtu: 70000 is not in *");
        await Refused(UpdateInterface(new Interface { HwAddr = Mac, DevicePath = "zz/01" }), "interface.devicePath: 'zz/01' is not a PCI path*");
        await Refused(UpdateInterface(new Interface { HwAddr = Mac, DevicePath = "1f/1f" }), "interface.devicePath: no network interface appeared at PCI path 1f/1f within 3 s");
        // The kernel refuses the second address part-way: the first one and everything else is rolled back.
        await Refused(UpdateInterface(Eth0(("10.66.0.5", "16"), ("ff02::1", "64")).Also(i => i.Name = "eth9")), "interface.IPAddresses[1]: add address ff02::1/64*");

        await Refused(UpdateRoutes(new Route { Dest = "10.5.0.0/16", Device = "eth0" }, new Route { Dest = "10.6.0.0/16", Device = "nosuch0" }), "routes.Routes[1].device: no interface is named \"nosuch0\"");
        await Refused(UpdateRoutes(new Route { Dest = "10.5.0.0/40", Device = "eth0" }), "routes.Routes[0].dest: \"10.5.0.0/40\" has a bad prefix length (0..32)");
        await Refused(UpdateRoutes(new Route { Dest = "10.5.0.0/16", Gateway = "2001:db8::1", Device = "eth0" }), "routes.Routes[0].gateway: 2001:db8::1 is not IPv4*");
        // The kernel refuses the third route (its gateway is not on a link): the old table comes back.
        await Refused(UpdateRoutes(
                new Route { Dest = "10.5.0.0/16", Device = "eth0", Scope = LinuxRtnetlink.RT_SCOPE_LINK },
                new Route { Dest = "10.6.0.0/16", Gateway = "10.88.0.1", Device = "eth0" },
                new Route { Dest = "10.7.0.0/16", Gateway = "192.0.2.1", Device = "eth0" }),
            "routes.Routes[2]: add route 10.7.0.0/16 via 192.0.2.1 dev *: Network is unreachable (ENETUNREACH): Nexthop has invalid gateway");
        await Refused(_client.AddARPNeighborsAsync(new AddARPNeighborsRequest
        {
            Neighbors = new ARPNeighbors
            {
                ARPNeighbors_ =
                {
                    new ARPNeighbor { ToIPAddress = new ProtoIPAddress { Address = "10.88.0.1" }, Device = "eth0", Lladdr = "02:42:ac:11:00:01" },
                    new ARPNeighbor { ToIPAddress = new ProtoIPAddress { Address = "10.88.0.2" }, Device = "eth0", Lladdr = "nonsense" },
                },
            },
        }), "neighbors.ARPNeighbors[1].lladdr: \"nonsense\" is not a MAC address");

        // The refused rename bounced the link, and the kernel puts the link-local address's local route back from its
        // workqueue a moment after the link is up again: wait for that, not for anything the agent does.
        string after = Snapshot();
        for (int i = 0; i < 50 && after != before; i++)
        {
            await Task.Delay(100);
            after = Snapshot();
        }
        after.Should().Be(before);
        (await _client.CheckAsync()).Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    /// <summary>
    /// The configured NIC as ip prints it: link and addresses, routes of every table, permanent
    /// neighbours; each list sorted, with what changes by itself (lifetimes, DAD state) left out.
    /// </summary>
    private string Snapshot()
    {
        static string Strip(JsonElement json) => string.Join('\n', json.EnumerateArray()
            .Select(e => System.Text.RegularExpressions.Regex.Replace(e.GetRawText(), "\"(valid_life_time|preferred_life_time|tentative|operstate)\":[^,}\\]]+,?", ""))
            .Order(StringComparer.Ordinal));
        return string.Join('\n',
            Strip(_ns.IpJson("addr", "show", "dev", "eth0")),
            Strip(_ns.IpJson("route", "show", "table", "all", "dev", "eth0")),
            Strip(_ns.IpJson("neigh", "show", "dev", "eth0", "nud", "permanent")));
    }

    private static async Task Refused(Task call, string detail)
    {
        var error = (await call.Invoking(async c => await c).Should().ThrowAsync<AgentStatusException>()).Which;
        error.StatusCode.Should().Be(AgentStatusCode.InvalidArgument, error.Detail);
        error.Detail.Should().Match(detail);
    }
}

internal static class InterfaceTestExtensions
{
    public static Interface Also(this Interface value, Action<Interface> change)
    {
        change(value);
        return value;
    }
}
