using System.Buffers.Binary;
using System.Net;
using FluentAssertions;
using KataAgent.Linux.Netlink;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;
using Xunit;

namespace KataAgent.Tests.Netlink;

/// <summary>The codec without a kernel: framing, alignment, nesting, and what malformed input does.</summary>
public class NetlinkCodecTests
{
    [Fact]
    public void Kernel_structs_have_the_uapi_sizes()
    {
        System.Runtime.InteropServices.Marshal.SizeOf<NlMsgHdr>().Should().Be(16);
        System.Runtime.InteropServices.Marshal.SizeOf<IfInfoMsg>().Should().Be(16);
        System.Runtime.InteropServices.Marshal.SizeOf<IfAddrMsg>().Should().Be(8);
        System.Runtime.InteropServices.Marshal.SizeOf<RtMsg>().Should().Be(12);
        System.Runtime.InteropServices.Marshal.SizeOf<NdMsg>().Should().Be(12);
        System.Runtime.InteropServices.Marshal.SizeOf<TcMsg>().Should().Be(20);
        System.Runtime.InteropServices.Marshal.SizeOf<TcU32Sel>().Should().Be(16);
        System.Runtime.InteropServices.Marshal.SizeOf<TcU32Key>().Should().Be(16);
        System.Runtime.InteropServices.Marshal.SizeOf<TcMirred>().Should().Be(28);
        System.Runtime.InteropServices.Marshal.SizeOf<SockaddrNl>().Should().Be(12);
        System.Runtime.InteropServices.Marshal.SizeOf<KataAgent.Host.Network.Tun.IfReq>().Should().Be(40);
    }

    [Fact]
    public void Builder_writes_header_fixed_part_and_padded_attributes()
    {
        var builder = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_CREATE)
            .Header(new IfInfoMsg { ifi_index = 7, ifi_flags = 1, ifi_change = 1 })
            .Attribute(LinuxIfLink.IFLA_IFNAME, "eth0")   // 4 + 5 = 9 → padded to 12
            .Attribute(LinuxIfLink.IFLA_MTU, 1400u);      // 4 + 4 = 8
        byte[] bytes = builder.ToArray(sequence: 42, portId: 99);

        bytes.Length.Should().Be(16 + 16 + 12 + 8);
        BinaryPrimitives.ReadUInt32LittleEndian(bytes).Should().Be((uint)bytes.Length);
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)).Should().Be(LinuxRtnetlink.RTM_NEWLINK);
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)).Should().Be(LinuxNetlink.NLM_F_CREATE);
        BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)).Should().Be(42u);
        BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)).Should().Be(99u);
        BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20)).Should().Be(7, "ifi_index follows family, pad and type");
        // IFLA_IFNAME: nla_len counts the NUL but not the padding; padding is zero.
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(32)).Should().Be(9);
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(34)).Should().Be(LinuxIfLink.IFLA_IFNAME);
        bytes.AsSpan(36, 8).ToArray().Should().Equal((byte)'e', (byte)'t', (byte)'h', (byte)'0', 0, 0, 0, 0);
        BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(44)).Should().Be(8);
        BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(48)).Should().Be(1400u);
    }

    [Fact]
    public void Encoded_messages_decode_back_with_nested_attributes()
    {
        var builder = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWROUTE, 0)
            .Header(new RtMsg { rtm_family = 2, rtm_dst_len = 24, rtm_table = 254, rtm_scope = 253 })
            .Attribute(LinuxRtnetlink.RTA_DST, IPAddress.Parse("10.1.2.0"))
            .Attribute(LinuxRtnetlink.RTA_OIF, 3)
            .BeginNested(LinuxRtnetlink.RTA_METRICS)
            .Attribute(LinuxRtnetlink.RTAX_MTU, 1300u)
            .BeginNested(9)
            .Attribute(1, (byte)5)
            .EndNested()
            .EndNested()
            .Attribute(LinuxRtnetlink.RTA_GATEWAY, IPAddress.Parse("2001:db8::1"));

        var messages = NetlinkMessage.ParseAll(builder.ToArray(5, 0));

        messages.Should().ContainSingle();
        var message = messages[0];
        message.Type.Should().Be(LinuxRtnetlink.RTM_NEWROUTE);
        message.Sequence.Should().Be(5u);
        message.Header<RtMsg>().rtm_dst_len.Should().Be(24);
        var attributes = message.Attributes<RtMsg>();
        attributes.Select(a => a.Type).Should().Equal(LinuxRtnetlink.RTA_DST, LinuxRtnetlink.RTA_OIF, LinuxRtnetlink.RTA_METRICS, LinuxRtnetlink.RTA_GATEWAY);
        attributes.IPAddress(LinuxRtnetlink.RTA_DST).Should().Be(IPAddress.Parse("10.1.2.0"));
        attributes.U32(LinuxRtnetlink.RTA_OIF).Should().Be(3u);
        var metrics = attributes.Nested(LinuxRtnetlink.RTA_METRICS);
        metrics.U32(LinuxRtnetlink.RTAX_MTU).Should().Be(1300u);
        metrics.Nested(9)[0].ReadU8().Should().Be(5);
        attributes.IPAddress(LinuxRtnetlink.RTA_GATEWAY).Should().Be(IPAddress.Parse("2001:db8::1"));

        var route = Rtnetlink.ParseRoute(message);
        route.Destination.Should().Be(IPAddress.Parse("10.1.2.0"));
        route.Mtu.Should().Be(1300u);
        route.OutputInterface.Should().Be(3);
    }

    [Fact]
    public void Several_messages_in_one_datagram_are_split_on_aligned_boundaries()
    {
        byte[] first = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_MULTI).Header(new IfInfoMsg { ifi_index = 1 }).Attribute(LinuxIfLink.IFLA_IFNAME, "lo").ToArray(1, 0);
        byte[] second = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_MULTI).Header(new IfInfoMsg { ifi_index = 2 }).Attribute(LinuxIfLink.IFLA_IFNAME, "eth0").ToArray(1, 0);
        byte[] done = new NetlinkMessageBuilder(LinuxNetlink.NLMSG_DONE, LinuxNetlink.NLM_F_MULTI).Header(0).ToArray(1, 0);

        var messages = NetlinkMessage.ParseAll(first.Concat(second).Concat(done).ToArray());

        messages.Select(m => m.Type).Should().Equal(LinuxRtnetlink.RTM_NEWLINK, LinuxRtnetlink.RTM_NEWLINK, LinuxNetlink.NLMSG_DONE);
        messages.Take(2).Select(m => Rtnetlink.ParseLink(m).Name).Should().Equal("lo", "eth0");
    }

    [Fact]
    public void Truncated_messages_and_attributes_are_rejected_with_what_is_wrong()
    {
        byte[] message = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, 0).Header(new IfInfoMsg()).Attribute(LinuxIfLink.IFLA_IFNAME, "eth0").ToArray();

        var shortHeader = () => NetlinkMessage.ParseAll(message.AsMemory(0, 10));
        shortHeader.Should().Throw<NetlinkFormatException>().WithMessage("truncated netlink message at offset 0: 10 bytes left*");

        var cut = () => NetlinkMessage.ParseAll(message.AsMemory(0, message.Length - 4));
        cut.Should().Throw<NetlinkFormatException>().WithMessage($"truncated netlink message type 16 at offset 0: length {message.Length}, only {message.Length - 4} bytes left");

        byte[] zeroLength = (byte[])message.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(zeroLength, 0);
        ((Action)(() => NetlinkMessage.ParseAll(zeroLength))).Should().Throw<NetlinkFormatException>().WithMessage("*has length 0, less than its header");

        // An attribute whose nla_len runs past the message.
        byte[] badAttribute = (byte[])message.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(badAttribute.AsSpan(32), 200);
        var parsed = NetlinkMessage.ParseAll(badAttribute)[0];
        ((Action)(() => parsed.Attributes<IfInfoMsg>())).Should().Throw<NetlinkFormatException>().WithMessage("truncated netlink attribute 3 at offset 0: length 200, only 12 bytes left");

        // An nla_len shorter than the attribute header.
        BinaryPrimitives.WriteUInt16LittleEndian(badAttribute.AsSpan(32), 2);
        parsed = NetlinkMessage.ParseAll(badAttribute)[0];
        ((Action)(() => parsed.Attributes<IfInfoMsg>())).Should().Throw<NetlinkFormatException>().WithMessage("*has length 2, less than its header");

        // A fixed header longer than the payload.
        var tiny = NetlinkMessage.ParseAll(new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, 0).Header(0u).ToArray())[0];
        ((Action)(() => tiny.Header<IfInfoMsg>())).Should().Throw<NetlinkFormatException>().WithMessage("*shorter than its IfInfoMsg (16 bytes)");

        // A value of the wrong size.
        var mtu = NetlinkAttributes.Parse(new NetlinkMessageBuilder(0, 0).Attribute(LinuxIfLink.IFLA_MTU, (ushort)1).ToArray().AsMemory(16));
        ((Action)(() => mtu[0].ReadU32())).Should().Throw<NetlinkFormatException>().WithMessage("netlink attribute 4 is 2 bytes; expected 4");
    }

    [Fact]
    public void Error_acks_carry_errno_and_the_extended_ack_message()
    {
        // struct nlmsgerr with a capped request header, then NLMSGERR_ATTR_MSG and _OFFS.
        var payload = new NetlinkMessageBuilder(LinuxNetlink.NLMSG_ERROR, LinuxNetlink.NLM_F_CAPPED | LinuxNetlink.NLM_F_ACK_TLVS)
            .Header(-19)
            .Header(new NlMsgHdr { nlmsg_len = 40, nlmsg_type = LinuxRtnetlink.RTM_NEWROUTE })
            .Attribute(LinuxNetlink.NLMSGERR_ATTR_MSG, "Device for nexthop is not found")
            .Attribute(LinuxNetlink.NLMSGERR_ATTR_OFFS, 36u)
            .ToArray(3, 0);

        var error = NetlinkError.FromErrorMessage(NetlinkMessage.ParseAll(payload)[0]);

        error.Errno.Should().Be(19);
        error.Message.Should().Be("Device for nexthop is not found");
        error.BadAttributeOffset.Should().Be(36u);
        new KataAgent.Linux.Interop.LinuxException("add route", error.Errno, error.Message).Message
            .Should().Be("add route: No such device (ENODEV): Device for nexthop is not found");
    }

    [Fact]
    public void Unclosed_nests_and_oversized_attributes_are_refused()
    {
        var open = new NetlinkMessageBuilder(0, 0).BeginNested(1);
        ((Action)(() => open.ToArray())).Should().Throw<InvalidOperationException>().WithMessage("1 nested attribute(s) not closed");
        ((Action)(() => new NetlinkMessageBuilder(0, 0).Attribute(1, new byte[70000]))).Should().Throw<ArgumentException>().WithMessage("netlink attribute 1 is 70000 bytes*");
    }

    [Fact]
    public void Redirect_filter_request_matches_the_layout_tc_sends()
    {
        // What Kata's runtime (vishvananda/netlink) sends for a match-all u32 filter with mirred.
        var message = NetlinkMessage.ParseAll(new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWTFILTER, 0)
            .Header(new TcMsg { tcm_ifindex = 4, tcm_parent = LinuxPktSched.TC_H_INGRESS_HANDLE, tcm_info = 0x0300 })
            .Attribute(LinuxRtnetlink.TCA_KIND, "u32")
            .BeginNested(LinuxRtnetlink.TCA_OPTIONS)
            .Attribute(LinuxPktSched.TCA_U32_SEL, new byte[] { 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }.Concat(new byte[16]).ToArray())
            .BeginNested(LinuxPktSched.TCA_U32_ACT).BeginNested(1)
            .Attribute(LinuxPktSched.TCA_ACT_KIND, "mirred")
            .BeginNested(LinuxPktSched.TCA_ACT_OPTIONS)
            .StructAttribute(LinuxPktSched.TCA_MIRRED_PARMS, new TcMirred { action = 4, eaction = 1, ifindex = 9 })
            .EndNested().EndNested().EndNested().EndNested()
            .ToArray())[0];

        var filter = Rtnetlink.ParseFilter(message);

        filter.Protocol.Should().Be(LinuxPktSched.ETH_P_ALL);
        filter.Kind.Should().Be("u32");
        filter.U32Flags.Should().Be(LinuxPktSched.TC_U32_TERMINAL);
        filter.U32Keys.Should().Equal((0u, 0u, 0));
        filter.Actions.Should().Equal(new MirredAction("mirred", LinuxPktSched.TCA_EGRESS_REDIR, 9, LinuxPktSched.TC_ACT_STOLEN));
    }

    [Theory]
    [InlineData("aa:bb:cc:dd:ee:ff", true)]
    [InlineData("AA-BB-CC-DD-EE-0F", true)]
    [InlineData("aa:bb:cc:dd:ee", false)]
    [InlineData("aa:bb:cc:dd:ee:fg", false)]
    [InlineData("", false)]
    public void Mac_addresses_parse_and_format_as_ip_writes_them(string text, bool valid)
    {
        MacAddress.TryParse(text, out var bytes).Should().Be(valid);
        if (valid)
        {
            MacAddress.Format(bytes).Should().Be(text.ToLowerInvariant().Replace('-', ':'));
        }
    }

    [Theory]
    [InlineData("eth0", true)]
    [InlineData("a23456789012345", true)]
    [InlineData("a234567890123456", false)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    [InlineData("..", false)]
    public void Link_names_are_checked_as_the_kernel_does(string name, bool valid) =>
        Rtnetlink.IsValidLinkName(name).Should().Be(valid);

    [Fact]
    public void Ipv4_broadcast_is_the_last_address_of_the_network()
    {
        Rtnetlink.BroadcastOf(IPAddress.Parse("10.1.2.3"), 24).Should().Be(IPAddress.Parse("10.1.2.255"));
        Rtnetlink.BroadcastOf(IPAddress.Parse("172.16.5.9"), 12).Should().Be(IPAddress.Parse("172.31.255.255"));
    }
}
