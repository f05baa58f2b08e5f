using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FluentAssertions;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using Xunit;

namespace KataAgent.Tests.Netlink;

/// <summary>
/// Links, addresses, routes and neighbours made and read back through our codec in a scratch
/// namespace (root), each result cross-checked against ip -d -j.
/// </summary>
public sealed class RtnetlinkKernelTests : IDisposable
{
    private readonly ScratchNetworkNamespace _ns = new();

    private Rtnetlink Rtnl => _ns.Rtnl;

    public void Dispose() => _ns.Dispose();

    [Fact]
    public void Veth_pair_and_bridge_are_created_changed_and_read_back_as_ip_sees_them()
    {
        Rtnl.CreateVethPair("va0", "vb0");
        Rtnl.CreateBridge("br0");
        var va = Rtnl.GetLink("va0");
        var vb = Rtnl.GetLink("vb0");
        var bridge = Rtnl.GetLink("br0");

        Rtnl.SetLinkMtu(va.Index, 1400);
        Rtnl.SetLinkAddress(va.Index, MacAddress.Parse("02:00:00:aa:bb:01"));
        Rtnl.SetLinkNoArp(va.Index, true);
        Rtnl.RenameLink(va.Index, "eth7");
        Rtnl.SetLinkMaster(vb.Index, bridge.Index);
        Rtnl.SetLinkUp(va.Index, true);
        Rtnl.SetLinkUp(vb.Index, true);

        var eth7 = Rtnl.GetLink(va.Index);
        eth7.Name.Should().Be("eth7");
        eth7.Kind.Should().Be("veth");
        eth7.Mtu.Should().Be(1400u);
        eth7.MacText.Should().Be("02:00:00:aa:bb:01");
        eth7.IsNoArp.Should().BeTrue();
        eth7.IsUp.Should().BeTrue();
        eth7.LinkIndex.Should().Be(vb.Index, "a veth's IFLA_LINK is its peer");
        Rtnl.GetLink("vb0").MasterIndex.Should().Be(bridge.Index);
        Rtnl.FindLinkByAddress(MacAddress.Parse("02:00:00:aa:bb:01"))!.Index.Should().Be(va.Index);
        Rtnl.FindLink("va0").Should().BeNull("it was renamed");

        var ip = _ns.IpJson("link", "show", "eth7")[0];
        ip.GetProperty("ifindex").GetInt32().Should().Be(eth7.Index);
        ip.GetProperty("mtu").GetUInt32().Should().Be(1400u);
        ip.GetProperty("address").GetString().Should().Be("02:00:00:aa:bb:01");
        ip.GetProperty("linkinfo").GetProperty("info_kind").GetString().Should().Be("veth");
        Flags(ip).Should().Contain(["UP", "NOARP"]);
        _ns.IpJson("link", "show", "vb0")[0].GetProperty("master").GetString().Should().Be("br0");

        var listed = Rtnl.ListLinks();
        listed.Select(l => l.Name).Should().BeEquivalentTo(_ns.IpJson("link", "show").EnumerateArray().Select(l => l.GetProperty("ifname").GetString()));
        listed.Single(l => l.Name == "lo").IsLoopback.Should().BeTrue();

        Rtnl.SetLinkNoArp(va.Index, false);
        Rtnl.SetLinkUp(va.Index, false);
        Flags(_ns.IpJson("link", "show", "eth7")[0]).Should().NotContain("NOARP").And.NotContain("UP");

        Rtnl.SetLinkMaster(vb.Index, 0);
        Rtnl.GetLink("vb0").MasterIndex.Should().BeNull();
        Rtnl.DeleteLink("br0");
        Rtnl.DeleteLink(eth7.Index);
        Rtnl.ListLinks().Select(l => l.Name).Should().Equal("lo");
    }

    [Fact]
    public void A_veth_peer_is_created_in_and_moved_between_namespaces()
    {
        using var other = new ScratchNetworkNamespace();
        int fd = Libc.Open(other.Path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        try
        {
            Rtnl.CreateVethPair("inside", "outside", fd);
        }
        finally
        {
            Libc.Close(fd);
        }
        Rtnl.FindLink("outside").Should().BeNull();
        other.Rtnl.GetLink("outside").Kind.Should().Be("veth");

        Rtnl.MoveLinkToNamespace(Rtnl.GetLink("inside").Index, other.Path);
        Rtnl.FindLink("inside").Should().BeNull();
        other.IpJson("link", "show", "inside")[0].GetProperty("ifname").GetString().Should().Be("inside");
    }

    [Fact]
    public void Addresses_v4_and_v6_are_added_listed_and_deleted()
    {
        Rtnl.CreateVethPair("a0", "a1");
        int index = Rtnl.GetLink("a0").Index;

        Rtnl.AddAddress(index, IPAddress.Parse("10.20.30.4"), 24);
        Rtnl.AddAddress(index, IPAddress.Parse("2001:db8:1::4"), 64, flags: LinuxIfAddr.IFA_F_NODAD);

        var ours = Rtnl.ListAddresses(index);
        var v4 = ours.Single(a => a.Address.AddressFamily == AddressFamily.InterNetwork);
        v4.PrefixLength.Should().Be(24);
        v4.Broadcast.Should().Be(IPAddress.Parse("10.20.30.255"));
        v4.Label.Should().Be("a0");
        var v6 = ours.Single(a => a.Address.Equals(IPAddress.Parse("2001:db8:1::4")));
        v6.PrefixLength.Should().Be(64);
        Rtnl.ListAddresses(index, AddressFamily.InterNetwork).Should().ContainSingle();

        var ip = _ns.IpJson("addr", "show", "dev", "a0")[0].GetProperty("addr_info").EnumerateArray().ToList();
        ip.Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}")
            .Should().BeEquivalentTo(ours.Select(a => a.ToString()));
        ip.Single(a => a.GetProperty("family").GetString() == "inet").GetProperty("broadcast").GetString().Should().Be("10.20.30.255");

        Rtnl.DeleteAddress(index, IPAddress.Parse("10.20.30.4"), 24);
        Rtnl.DeleteAddress(index, IPAddress.Parse("2001:db8:1::4"), 64);
        Rtnl.ListAddresses(index).Where(a => !a.Address.IsIPv6LinkLocal).Should().BeEmpty();
    }

    [Fact]
    public void Routes_with_gateway_source_scope_onlink_and_mtu_are_added_replaced_and_deleted()
    {
        Rtnl.CreateVethPair("r0", "r1");
        int index = Rtnl.GetLink("r0").Index;
        Rtnl.SetLinkUp(index, true);
        Rtnl.AddAddress(index, IPAddress.Parse("192.168.50.2"), 24);

        Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("10.9.0.0"), DestinationPrefixLength = 16, OutputInterface = index, Scope = LinuxRtnetlink.RT_SCOPE_LINK });
        Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetwork, Gateway = IPAddress.Parse("192.168.50.1"), OutputInterface = index, PreferredSource = IPAddress.Parse("192.168.50.2"), Mtu = 1300 });
        Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("172.30.0.0"), DestinationPrefixLength = 16, Gateway = IPAddress.Parse("10.200.0.1"), OutputInterface = index, Flags = LinuxRtnetlink.RTNH_F_ONLINK, Protocol = LinuxRtnetlink.RTPROT_STATIC });

        var routes = Rtnl.ListRoutes(AddressFamily.InterNetwork);
        var device = routes.Single(r => r.DestinationText == "10.9.0.0/16");
        device.Scope.Should().Be(LinuxRtnetlink.RT_SCOPE_LINK);
        device.Protocol.Should().Be(LinuxRtnetlink.RTPROT_BOOT);
        var gateway = routes.Single(r => r.IsDefault);
        gateway.Gateway.Should().Be(IPAddress.Parse("192.168.50.1"));
        gateway.PreferredSource.Should().Be(IPAddress.Parse("192.168.50.2"));
        gateway.Mtu.Should().Be(1300u);
        var onlink = routes.Single(r => r.DestinationText == "172.30.0.0/16");
        (onlink.Flags & LinuxRtnetlink.RTNH_F_ONLINK).Should().Be(LinuxRtnetlink.RTNH_F_ONLINK);
        routes.Single(r => r.Protocol == LinuxRtnetlink.RTPROT_KERNEL).DestinationText.Should().Be("192.168.50.0/24");

        var ip = _ns.IpJson("-4", "route", "show", "table", "main").EnumerateArray().ToList();
        ip.Select(r => r.GetProperty("dst").GetString()).Should().BeEquivalentTo("default", "10.9.0.0/16", "172.30.0.0/16", "192.168.50.0/24");
        var ipDefault = ip.Single(r => r.GetProperty("dst").GetString() == "default");
        ipDefault.GetProperty("gateway").GetString().Should().Be("192.168.50.1");
        ipDefault.GetProperty("prefsrc").GetString().Should().Be("192.168.50.2");
        ipDefault.GetProperty("metrics").EnumerateArray().Single().GetProperty("mtu").GetInt32().Should().Be(1300);
        ip.Single(r => r.GetProperty("dst").GetString() == "172.30.0.0/16").GetProperty("flags").EnumerateArray().Select(f => f.GetString()).Should().Contain("onlink");
        ip.Single(r => r.GetProperty("dst").GetString() == "10.9.0.0/16").GetProperty("scope").GetString().Should().Be("link");

        Rtnl.ReplaceRoute(gateway with { Mtu = 1280 });
        Rtnl.ListRoutes(AddressFamily.InterNetwork).Single(r => r.IsDefault).Mtu.Should().Be(1280u);

        Rtnl.DeleteRoute(gateway);
        Rtnl.DeleteRoute(onlink);
        Rtnl.DeleteRoute(device);
        Rtnl.ListRoutes(AddressFamily.InterNetwork).Should().ContainSingle().Which.Protocol.Should().Be(LinuxRtnetlink.RTPROT_KERNEL);
    }

    [Fact]
    public void Ipv6_routes_are_added_and_listed()
    {
        Rtnl.CreateVethPair("s0", "s1");
        int index = Rtnl.GetLink("s0").Index;
        Rtnl.SetLinkUp(index, true);
        Rtnl.AddAddress(index, IPAddress.Parse("2001:db8:5::2"), 64, flags: LinuxIfAddr.IFA_F_NODAD);

        Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetworkV6, Destination = IPAddress.Parse("2001:db8:99::"), DestinationPrefixLength = 48, Gateway = IPAddress.Parse("2001:db8:5::1"), OutputInterface = index });

        var route = Rtnl.ListRoutes(AddressFamily.InterNetworkV6).Single(r => r.DestinationText == "2001:db8:99::/48");
        route.Gateway.Should().Be(IPAddress.Parse("2001:db8:5::1"));
        route.OutputInterface.Should().Be(index);
        _ns.IpJson("-6", "route", "show", "2001:db8:99::/48")[0].GetProperty("gateway").GetString().Should().Be("2001:db8:5::1");
    }

    [Fact]
    public void Permanent_neighbours_are_added_replaced_and_read_back()
    {
        Rtnl.CreateVethPair("n0", "n1");
        int index = Rtnl.GetLink("n0").Index;
        Rtnl.SetLinkUp(index, true);

        Rtnl.AddNeighbour(new NeighbourEntry { InterfaceIndex = index, Destination = IPAddress.Parse("10.0.0.9"), LinkLayerAddress = MacAddress.Parse("02:00:00:00:00:09") });
        Rtnl.ReplaceNeighbour(new NeighbourEntry { InterfaceIndex = index, Destination = IPAddress.Parse("10.0.0.9"), LinkLayerAddress = MacAddress.Parse("02:00:00:00:00:0a") });
        Rtnl.ReplaceNeighbour(new NeighbourEntry { InterfaceIndex = index, Destination = IPAddress.Parse("2001:db8::9"), LinkLayerAddress = MacAddress.Parse("02:00:00:00:00:0b") });

        var ours = Rtnl.ListNeighbours(index);
        ours.Should().HaveCount(2);
        ours.Should().OnlyContain(n => n.State == LinuxNeighbour.NUD_PERMANENT);
        MacAddress.Format(ours.Single(n => n.Destination.Equals(IPAddress.Parse("10.0.0.9"))).LinkLayerAddress!).Should().Be("02:00:00:00:00:0a");

        var ip = _ns.IpJson("neigh", "show", "dev", "n0").EnumerateArray().ToList();
        ip.Select(n => (n.GetProperty("dst").GetString(), n.GetProperty("lladdr").GetString()))
            .Should().BeEquivalentTo([("10.0.0.9", "02:00:00:00:00:0a"), ("2001:db8::9", "02:00:00:00:00:0b")]);
        ip.Should().OnlyContain(n => n.GetProperty("state").EnumerateArray().Single().GetString() == "PERMANENT");

        Rtnl.DeleteNeighbour(ours[0]);
        Rtnl.ListNeighbours(index).Should().ContainSingle();
    }

    [Fact]
    public void Unknown_devices_bad_prefixes_and_bad_routes_fail_with_clear_errors()
    {
        var unknown = () => Rtnl.GetLink("nosuch0");
        unknown.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.ENODEV).WithMessage("link \"nosuch0\": No such device (ENODEV)*");
        Rtnl.FindLink(4242).Should().BeNull();
        var unknownIndex = () => Rtnl.SetLinkUp(4242, true);
        unknownIndex.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.ENODEV).WithMessage("set link 4242 up:*");

        Rtnl.CreateVethPair("e0", "e1");
        int index = Rtnl.GetLink("e0").Index;
        var badPrefix = () => Rtnl.AddAddress(index, IPAddress.Parse("10.0.0.1"), 33);
        badPrefix.Should().Throw<ArgumentOutOfRangeException>().WithMessage("add address 10.0.0.1/33: prefix length 33 is not in 0..32 for 10.0.0.1*");
        var badV6Prefix = () => Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetworkV6, Destination = IPAddress.Parse("2001:db8::"), DestinationPrefixLength = 129, OutputInterface = index });
        badV6Prefix.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*prefix length 129 is not in 0..128*");
        var mixed = () => Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetwork, Gateway = IPAddress.Parse("2001:db8::1"), OutputInterface = index });
        mixed.Should().Throw<ArgumentException>().WithMessage("route default: gateway 2001:db8::1 is not IPv4*");

        // A route via a missing device: the kernel's errno (it gives no extended ack for this one).
        var missingDevice = () => Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetwork, Destination = IPAddress.Parse("10.77.0.0"), DestinationPrefixLength = 16, OutputInterface = 4242 });
        missingDevice.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.ENODEV).WithMessage("add route 10.77.0.0/16 dev 4242: No such device (ENODEV)*");

        // The kernel's own reasons come back through the extended ack.
        Rtnl.SetLinkUp(index, true);
        var unreachable = () => Rtnl.AddRoute(new RouteEntry { Family = AddressFamily.InterNetwork, Gateway = IPAddress.Parse("192.0.2.1"), OutputInterface = index });
        var gatewayError = unreachable.Should().Throw<LinuxException>().Which;
        gatewayError.Errno.Should().Be(Errno.ENETUNREACH);
        gatewayError.KernelMessage.Should().Be("Nexthop has invalid gateway");
        gatewayError.Message.Should().Be("add route default via 192.0.2.1 dev " + index + ": Network is unreachable (ENETUNREACH): Nexthop has invalid gateway");

        var duplicate = () => Rtnl.CreateVethPair("e0", "e2");
        duplicate.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.EEXIST).WithMessage("create veth \"e0\" peer \"e2\": File exists (EEXIST)*");
        var badName = () => Rtnl.RenameLink(index, "this-name-is-too-long");
        badName.Should().Throw<ArgumentException>().WithMessage("\"this-name-is-too-long\" is not a valid link name*");
    }

    [Fact]
    public void Dumps_of_many_objects_span_several_datagrams()
    {
        Rtnl.CreateVethPair("m0", "m1");
        int index = Rtnl.GetLink("m0").Index;
        for (int i = 1; i <= 300; i++)
        {
            Rtnl.AddAddress(index, IPAddress.Parse($"10.{i / 200}.{i % 200}.1"), 32);
        }
        Rtnl.ListAddresses(index, AddressFamily.InterNetwork).Should().HaveCount(300);
        _ns.IpJson("-4", "addr", "show", "dev", "m0")[0].GetProperty("addr_info").GetArrayLength().Should().Be(300);
    }

    [Fact]
    public void A_namespace_path_that_does_not_exist_or_is_not_a_netns_is_refused()
    {
        var missing = () => NetlinkSocket.OpenInNamespace("/var/run/netns/ka-does-not-exist");
        missing.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.ENOENT).WithMessage("open network namespace /var/run/netns/ka-does-not-exist*");
        var notNetns = () => NetlinkSocket.OpenInNamespace("/proc/self/ns/uts");
        notNetns.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.EINVAL).WithMessage("*not a network namespace*");
    }

    private static List<string?> Flags(JsonElement link) => link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()).ToList();
}
