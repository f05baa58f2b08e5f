using FluentAssertions;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using KataAgent.Host.Network.Tun;
using Xunit;

namespace KataAgent.Tests.Netlink;

/// <summary>
/// The tcfilter pieces against the kernel: a tap made inside a scratch namespace, ingress qdiscs
/// and u32 match-all filters redirecting tap ↔ veth, cross-checked with tc -j -s.
/// </summary>
public sealed class TrafficControlKernelTests : IDisposable
{
    private readonly ScratchNetworkNamespace _ns = new();

    private Rtnetlink Rtnl => _ns.Rtnl;

    public void Dispose() => _ns.Dispose();

    [Fact]
    public void Tap_and_veth_are_joined_by_ingress_qdiscs_and_redirect_filters_then_torn_down()
    {
        Rtnl.CreateVethPair("eth0", "peer0");
        using (var tap = TapDevice.CreateInNamespace(_ns.Path, "tap0_kata", queues: 2, persist: true))
        {
            tap.Name.Should().Be("tap0_kata");
            tap.Queues.Should().HaveCount(2);
        }
        var veth = Rtnl.GetLink("eth0");
        var tapLink = Rtnl.GetLink("tap0_kata");
        tapLink.Kind.Should().Be("tun");
        var ipTap = _ns.IpJson("link", "show", "tap0_kata")[0].GetProperty("linkinfo").GetProperty("info_data");
        ipTap.GetProperty("type").GetString().Should().Be("tap");
        ipTap.GetProperty("pi").GetBoolean().Should().BeFalse();
        ipTap.GetProperty("vnet_hdr").GetBoolean().Should().BeTrue();
        ipTap.GetProperty("multi_queue").GetBoolean().Should().BeTrue();
        ipTap.GetProperty("persist").GetBoolean().Should().BeTrue();

        foreach (var link in new[] { veth, tapLink })
        {
            Rtnl.AddIngressQdisc(link.Index);
        }
        Rtnl.AddRedirectFilter(veth.Index, tapLink.Index);
        Rtnl.AddRedirectFilter(tapLink.Index, veth.Index);

        var qdisc = Rtnl.ListQdiscs(veth.Index).Single(q => q.Kind == "ingress");
        qdisc.Handle.Should().Be(LinuxPktSched.TC_H_INGRESS_HANDLE);
        qdisc.Parent.Should().Be(LinuxPktSched.TC_H_INGRESS);
        var tcQdisc = _ns.TcJson("qdisc", "show", "dev", "eth0").EnumerateArray().Single(q => q.GetProperty("kind").GetString() == "ingress");
        tcQdisc.GetProperty("handle").GetString().Should().Be(TcHandle.Format(qdisc.Handle));
        tcQdisc.GetProperty("parent").GetString().Should().Be("ffff:fff1");

        var filters = Rtnl.ListFilters(veth.Index);
        var key = filters.Single(f => f.Actions.Count > 0);
        key.Kind.Should().Be("u32");
        key.Protocol.Should().Be(LinuxPktSched.ETH_P_ALL);
        key.U32Flags.Should().Be(LinuxPktSched.TC_U32_TERMINAL);
        key.U32Keys.Should().Equal((0u, 0u, 0));
        key.Actions.Should().Equal(new MirredAction("mirred", LinuxPktSched.TCA_EGRESS_REDIR, tapLink.Index, LinuxPktSched.TC_ACT_STOLEN));
        Rtnl.ListFilters(tapLink.Index).Single(f => f.Actions.Count > 0).Actions.Single().InterfaceIndex.Should().Be(veth.Index);

        foreach (var (dev, to) in new[] { ("eth0", "tap0_kata"), ("tap0_kata", "eth0") })
        {
            var tc = _ns.TcJson("filter", "show", "dev", dev, "parent", "ffff:").EnumerateArray().ToList();
            tc.Should().OnlyContain(f => f.GetProperty("protocol").GetString() == "all" && f.GetProperty("kind").GetString() == "u32");
            tc.Select(f => f.GetProperty("pref").GetInt32()).Distinct().Single().Should().Be(filters[0].Priority);
            var action = tc.Single(f => f.TryGetProperty("options", out var o) && o.TryGetProperty("actions", out _))
                .GetProperty("options").GetProperty("actions").EnumerateArray().Single();
            action.GetProperty("kind").GetString().Should().Be("mirred");
            action.GetProperty("mirred_action").GetString().Should().Be("redirect");
            action.GetProperty("direction").GetString().Should().Be("egress");
            action.GetProperty("to_dev").GetString().Should().Be(to);
            action.GetProperty("control_action").GetProperty("type").GetString().Should().Be("stolen");
        }

        // Teardown as the host's tcfilter endpoint does it: filters, qdiscs, then the tap.
        Rtnl.DeleteFilters(veth.Index);
        Rtnl.ListFilters(veth.Index).Should().BeEmpty();
        _ns.TcJson("filter", "show", "dev", "eth0", "parent", "ffff:").GetArrayLength().Should().Be(0);
        Rtnl.DeleteIngressQdisc(veth.Index);
        Rtnl.DeleteIngressQdisc(tapLink.Index);
        Rtnl.ListQdiscs(veth.Index).Should().NotContain(q => q.Kind == "ingress");
        _ns.TcJson("qdisc", "show", "dev", "tap0_kata").EnumerateArray().Should().NotContain(q => q.GetProperty("kind").GetString() == "ingress");
        Rtnl.DeleteLink(tapLink.Index);
        Rtnl.FindLink("tap0_kata").Should().BeNull();
    }

    [Fact]
    public void A_non_persistent_tap_disappears_with_its_fd()
    {
        using (TapDevice.CreateInNamespace(_ns.Path, "tapx"))
        {
            Rtnl.GetLink("tapx").Kind.Should().Be("tun");
        }
        Rtnl.FindLink("tapx").Should().BeNull();
    }

    [Fact]
    public void Filters_without_an_ingress_qdisc_and_a_second_ingress_qdisc_are_refused_by_the_kernel()
    {
        Rtnl.CreateVethPair("f0", "f1");
        int index = Rtnl.GetLink("f0").Index;
        var noQdisc = () => Rtnl.AddRedirectFilter(index, Rtnl.GetLink("f1").Index);
        noQdisc.Should().Throw<LinuxException>().WithMessage($"add u32 redirect filter from link {index} to link *");

        Rtnl.AddIngressQdisc(index);
        var twice = () => Rtnl.AddIngressQdisc(index);
        twice.Should().Throw<LinuxException>().Where(e => e.Errno == Errno.EEXIST);
    }
}
