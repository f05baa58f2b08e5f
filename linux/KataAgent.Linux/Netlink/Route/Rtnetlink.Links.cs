using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>Links: list, look up, change, create (veth, bridge, dummy), move, delete.</summary>
internal sealed partial class Rtnetlink
{
    /// <summary>Every link of the namespace.</summary>
    public IReadOnlyList<NetworkLink> ListLinks()
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETLINK, 0).Header(new IfInfoMsg());
        return _socket.Dump(request, "list links").Where(m => m.Type == LinuxRtnetlink.RTM_NEWLINK).Select(ParseLink).ToList();
    }

    /// <summary>The link named <paramref name="name"/>, or null.</summary>
    public NetworkLink? FindLink(string name)
    {
        CheckLinkName(name);
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETLINK, 0).Header(new IfInfoMsg()).Attribute(LinuxIfLink.IFLA_IFNAME, name);
        return GetOne(request, $"get link \"{name}\"");
    }

    /// <summary>The link with index <paramref name="index"/>, or null.</summary>
    public NetworkLink? FindLink(int index)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETLINK, 0).Header(new IfInfoMsg { ifi_index = index });
        return GetOne(request, $"get link index {index}");
    }

    /// <summary>The first link whose MAC is <paramref name="address"/>, or null.</summary>
    public NetworkLink? FindLinkByAddress(ReadOnlySpan<byte> address)
    {
        foreach (var link in ListLinks())
        {
            if (link.Address is not null && address.SequenceEqual(link.Address))
            {
                return link;
            }
        }
        return null;
    }

    /// <summary>The link named <paramref name="name"/>.</summary>
    /// <exception cref="LinuxException">ENODEV: no such link; the message names it.</exception>
    public NetworkLink GetLink(string name) =>
        FindLink(name) ?? throw new LinuxException($"link \"{name}\"", Errno.ENODEV, "no link with this name");

    /// <summary>The link with index <paramref name="index"/>.</summary>
    public NetworkLink GetLink(int index) =>
        FindLink(index) ?? throw new LinuxException($"link index {index}", Errno.ENODEV, "no link with this index");

    /// <summary>Brings a link up or down.</summary>
    public void SetLinkUp(int index, bool up) =>
        SetFlags(index, up ? LinuxIf.IFF_UP : 0, LinuxIf.IFF_UP, $"set link {index} {(up ? "up" : "down")}");

    /// <summary>Sets or clears IFF_NOARP (ip link set … arp off / on).</summary>
    public void SetLinkNoArp(int index, bool noArp) =>
        SetFlags(index, noArp ? LinuxIf.IFF_NOARP : 0, LinuxIf.IFF_NOARP, $"set link {index} arp {(noArp ? "off" : "on")}");

    /// <summary>Changes the flags selected by <paramref name="mask"/> to their values in <paramref name="flags"/>.</summary>
    public void SetLinkFlags(int index, uint flags, uint mask) =>
        SetFlags(index, flags, mask, $"set link {index} flags 0x{flags:x}/0x{mask:x}");

    public void SetLinkMtu(int index, uint mtu) =>
        _socket.Execute(SetLinkRequest(index).Attribute(LinuxIfLink.IFLA_MTU, mtu), $"set link {index} mtu {mtu}");

    /// <summary>Renames a link; the kernel refuses (EBUSY) while it is up.</summary>
    public void RenameLink(int index, string name)
    {
        CheckLinkName(name);
        _socket.Execute(SetLinkRequest(index).Attribute(LinuxIfLink.IFLA_IFNAME, name), $"rename link {index} to \"{name}\"");
    }

    public void SetLinkAddress(int index, ReadOnlySpan<byte> address) =>
        _socket.Execute(SetLinkRequest(index).Attribute(LinuxIfLink.IFLA_ADDRESS, address), $"set link {index} address {MacAddress.Format(address)}");

    /// <summary>Enslaves a link to a bridge; 0 releases it (nomaster).</summary>
    public void SetLinkMaster(int index, int masterIndex) =>
        _socket.Execute(SetLinkRequest(index).Attribute(LinuxIfLink.IFLA_MASTER, masterIndex), $"set link {index} master {masterIndex}");

    /// <summary>Moves a link into the network namespace open as <paramref name="namespaceFd"/>.</summary>
    public void MoveLinkToNamespace(int index, int namespaceFd) =>
        _socket.Execute(SetLinkRequest(index).Attribute(LinuxIfLink.IFLA_NET_NS_FD, namespaceFd), $"move link {index} to namespace fd {namespaceFd}");

    /// <summary>Moves a link into the network namespace at <paramref name="namespacePath"/>.</summary>
    public void MoveLinkToNamespace(int index, string namespacePath)
    {
        int fd = Libc.Open(namespacePath, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw LinuxException.FromLastError($"open network namespace {namespacePath}");
        }
        try
        {
            _socket.Execute(SetLinkRequest(index).Attribute(LinuxIfLink.IFLA_NET_NS_FD, fd), $"move link {index} to {namespacePath}");
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Creates a veth pair; the peer goes into the namespace open as <paramref name="peerNamespaceFd"/> when given.</summary>
    public void CreateVethPair(string name, string peerName, int? peerNamespaceFd = null)
    {
        CheckLinkName(name);
        CheckLinkName(peerName);
        var request = NewLinkRequest(name)
            .BeginNested(LinuxIfLink.IFLA_LINKINFO)
            .Attribute(LinuxIfLink.IFLA_INFO_KIND, "veth")
            .BeginNested(LinuxIfLink.IFLA_INFO_DATA)
            .BeginNested(LinuxIfLink.VETH_INFO_PEER)
            .Header(new IfInfoMsg())
            .Attribute(LinuxIfLink.IFLA_IFNAME, peerName);
        if (peerNamespaceFd is { } fd)
        {
            request.Attribute(LinuxIfLink.IFLA_NET_NS_FD, fd);
        }
        request.EndNested().EndNested().EndNested();
        _socket.Execute(request, $"create veth \"{name}\" peer \"{peerName}\"");
    }

    /// <summary>
    /// Creates a macvtap in bridge mode on top of link <paramref name="lowerIndex"/>, with interface index
    /// <paramref name="index"/> when non-zero (its character device is /dev/tap&lt;index&gt;, named by the index, so
    /// the caller may want one that no other namespace uses). Returns the new link.
    /// </summary>
    public NetworkLink CreateMacvtap(string name, int lowerIndex, int index = 0)
    {
        CheckLinkName(name);
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL)
            .Header(new IfInfoMsg { ifi_index = index })
            .Attribute(LinuxIfLink.IFLA_IFNAME, name)
            .Attribute(LinuxIfLink.IFLA_LINK, lowerIndex)
            .BeginNested(LinuxIfLink.IFLA_LINKINFO)
            .Attribute(LinuxIfLink.IFLA_INFO_KIND, "macvtap")
            .BeginNested(LinuxIfLink.IFLA_INFO_DATA)
            .Attribute(LinuxIfLink.IFLA_MACVLAN_MODE, LinuxIfLink.MACVLAN_MODE_BRIDGE)
            .EndNested()
            .EndNested();
        _socket.Execute(request, $"create macvtap \"{name}\" on link {lowerIndex}" + (index == 0 ? "" : $" as index {index}"));
        return GetLink(name);
    }

    public void CreateBridge(string name) => CreateOfKind(name, "bridge");

    public void CreateDummy(string name) => CreateOfKind(name, "dummy");

    public void DeleteLink(int index) =>
        _socket.Execute(new NetlinkMessageBuilder(LinuxRtnetlink.RTM_DELLINK, 0).Header(new IfInfoMsg { ifi_index = index }), $"delete link {index}");

    public void DeleteLink(string name)
    {
        CheckLinkName(name);
        _socket.Execute(new NetlinkMessageBuilder(LinuxRtnetlink.RTM_DELLINK, 0).Header(new IfInfoMsg()).Attribute(LinuxIfLink.IFLA_IFNAME, name), $"delete link \"{name}\"");
    }

    /// <summary>Checks a link name as the kernel would (dev_valid_name): 1–15 bytes, no '/', ':' or whitespace, not "." or "..".</summary>
    public static void CheckLinkName(string name)
    {
        if (!IsValidLinkName(name))
        {
            throw new ArgumentException($"\"{name}\" is not a valid link name (1-{LinuxIf.IFNAMSIZ - 1} bytes, no '/', ':' or whitespace, not \".\" or \"..\")", nameof(name));
        }
    }

    public static bool IsValidLinkName(string? name) =>
        !string.IsNullOrEmpty(name)
        && System.Text.Encoding.UTF8.GetByteCount(name) < LinuxIf.IFNAMSIZ
        && name is not ("." or "..")
        && !name.Any(c => c is '/' or ':' or '\0' || char.IsWhiteSpace(c));

    /// <summary>Decodes an RTM_NEWLINK message.</summary>
    public static NetworkLink ParseLink(NetlinkMessage message)
    {
        var header = message.Header<IfInfoMsg>();
        var attributes = message.Attributes<IfInfoMsg>();
        var info = attributes.Nested(LinuxIfLink.IFLA_LINKINFO);
        LinkStatistics? statistics = null;
        if (attributes.TryGet(LinuxIfLink.IFLA_STATS64, out var stats) && stats.Payload.Length >= 80)
        {
            var counters = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(stats.Payload.Span[..80]);
            statistics = new LinkStatistics(counters[0], counters[1], counters[2], counters[3], counters[4], counters[5], counters[6], counters[7], counters[8], counters[9]);
        }
        return new NetworkLink
        {
            Index = header.ifi_index,
            Name = attributes.String(LinuxIfLink.IFLA_IFNAME) ?? "",
            Flags = header.ifi_flags,
            Type = header.ifi_type,
            Mtu = attributes.U32(LinuxIfLink.IFLA_MTU) ?? 0,
            MinMtu = attributes.U32(LinuxIfLink.IFLA_MIN_MTU),
            MaxMtu = attributes.U32(LinuxIfLink.IFLA_MAX_MTU),
            Address = attributes.Bytes(LinuxIfLink.IFLA_ADDRESS),
            Kind = info.String(LinuxIfLink.IFLA_INFO_KIND),
            MasterIndex = (int?)attributes.U32(LinuxIfLink.IFLA_MASTER),
            LinkIndex = (int?)attributes.U32(LinuxIfLink.IFLA_LINK),
            OperState = attributes.TryGet(LinuxIfLink.IFLA_OPERSTATE, out var oper) ? oper.ReadU8() : LinuxIfLink.IF_OPER_UNKNOWN,
            TxQueueLength = attributes.U32(LinuxIfLink.IFLA_TXQLEN),
            Statistics = statistics,
        };
    }

    private NetworkLink? GetOne(NetlinkMessageBuilder request, string operation)
    {
        try
        {
            var replies = _socket.Request(request, operation);
            return replies.Where(m => m.Type == LinuxRtnetlink.RTM_NEWLINK).Select(ParseLink).FirstOrDefault();
        }
        catch (LinuxException e) when (e.Errno == Errno.ENODEV)
        {
            return null;
        }
    }

    private void SetFlags(int index, uint flags, uint mask, string operation) =>
        _socket.Execute(new NetlinkMessageBuilder(LinuxRtnetlink.RTM_SETLINK, 0).Header(new IfInfoMsg { ifi_index = index, ifi_flags = flags, ifi_change = mask }), operation);

    private static NetlinkMessageBuilder SetLinkRequest(int index) =>
        new NetlinkMessageBuilder(LinuxRtnetlink.RTM_SETLINK, 0).Header(new IfInfoMsg { ifi_index = index });

    private static NetlinkMessageBuilder NewLinkRequest(string name) =>
        new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL)
            .Header(new IfInfoMsg())
            .Attribute(LinuxIfLink.IFLA_IFNAME, name);

    private void CreateOfKind(string name, string kind)
    {
        CheckLinkName(name);
        var request = NewLinkRequest(name)
            .BeginNested(LinuxIfLink.IFLA_LINKINFO)
            .Attribute(LinuxIfLink.IFLA_INFO_KIND, kind)
            .EndNested();
        _socket.Execute(request, $"create {kind} \"{name}\"");
    }
}
