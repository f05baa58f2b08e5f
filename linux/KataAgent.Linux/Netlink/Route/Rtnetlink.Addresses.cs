using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>Addresses: list, add, delete (IPv4 and IPv6).</summary>
internal sealed partial class Rtnetlink
{
    /// <summary>Addresses of one link (or all links), of one family (or both).</summary>
    public IReadOnlyList<InterfaceAddress> ListAddresses(int? interfaceIndex = null, AddressFamily family = AddressFamily.Unspecified)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETADDR, 0).Header(new IfAddrMsg { ifa_family = NetlinkMessageBuilder.Family(family) });
        return _socket.Dump(request, "list addresses")
            .Where(m => m.Type == LinuxRtnetlink.RTM_NEWADDR)
            .Select(ParseAddress)
            .Where(a => interfaceIndex is null || a.InterfaceIndex == interfaceIndex)
            .ToList();
    }

    /// <summary>
    /// Adds <paramref name="address"/>/<paramref name="prefixLength"/> to a link. IPv4 gets a
    /// broadcast address (the given one, else the network's last address for prefixes up to /30),
    /// as Kata's runtime library does.
    /// </summary>
    /// <param name="interfaceIndex">The link's index.</param>
    /// <param name="address">The local address.</param>
    /// <param name="prefixLength">The prefix length (0-32 for IPv4, 0-128 for IPv6).</param>
    /// <param name="broadcast">The IPv4 broadcast address; computed when null (see <paramref name="computeBroadcast"/>).</param>
    /// <param name="flags">IFA_F_* flags.</param>
    /// <param name="computeBroadcast">False adds an IPv4 address without a broadcast when none is given (restoring one exactly as it was).</param>
    public void AddAddress(int interfaceIndex, IPAddress address, int prefixLength, IPAddress? broadcast = null, uint flags = 0, bool computeBroadcast = true)
    {
        CheckPrefix(address, prefixLength, $"add address {address}/{prefixLength}");
        var request = AddressRequest(LinuxRtnetlink.RTM_NEWADDR, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, interfaceIndex, address, prefixLength);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            if (computeBroadcast)
            {
                broadcast ??= prefixLength < 31 ? BroadcastOf(address, prefixLength) : null;
            }
            if (broadcast is not null)
            {
                request.Attribute(LinuxIfAddr.IFA_BROADCAST, broadcast);
            }
        }
        if (flags != 0)
        {
            request.Attribute(LinuxIfAddr.IFA_FLAGS, flags);
        }
        _socket.Execute(request, $"add address {address}/{prefixLength} to link {interfaceIndex}");
    }

    public void DeleteAddress(int interfaceIndex, IPAddress address, int prefixLength)
    {
        CheckPrefix(address, prefixLength, $"delete address {address}/{prefixLength}");
        _socket.Execute(AddressRequest(LinuxRtnetlink.RTM_DELADDR, 0, interfaceIndex, address, prefixLength), $"delete address {address}/{prefixLength} from link {interfaceIndex}");
    }

    /// <summary>The IPv4 broadcast address of <paramref name="address"/>'s network.</summary>
    public static IPAddress BroadcastOf(IPAddress address, int prefixLength)
    {
        uint value = BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
        uint host = prefixLength == 0 ? uint.MaxValue : (1u << (32 - prefixLength)) - 1;
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value | host);
        return new IPAddress(bytes);
    }

    /// <summary>Decodes an RTM_NEWADDR message.</summary>
    public static InterfaceAddress ParseAddress(NetlinkMessage message)
    {
        var header = message.Header<IfAddrMsg>();
        var attributes = message.Attributes<IfAddrMsg>();
        var local = attributes.IPAddress(LinuxIfAddr.IFA_LOCAL);
        var address = attributes.IPAddress(LinuxIfAddr.IFA_ADDRESS);
        return new InterfaceAddress
        {
            InterfaceIndex = (int)header.ifa_index,
            Address = local ?? address ?? throw new NetlinkFormatException($"RTM_NEWADDR for link {header.ifa_index} has neither IFA_LOCAL nor IFA_ADDRESS"),
            Peer = local is not null && address is not null && !local.Equals(address) ? address : null,
            PrefixLength = header.ifa_prefixlen,
            Broadcast = attributes.IPAddress(LinuxIfAddr.IFA_BROADCAST),
            Scope = header.ifa_scope,
            Flags = attributes.U32(LinuxIfAddr.IFA_FLAGS) ?? header.ifa_flags,
            Label = attributes.String(LinuxIfAddr.IFA_LABEL),
        };
    }

    private static NetlinkMessageBuilder AddressRequest(ushort type, ushort flags, int interfaceIndex, IPAddress address, int prefixLength)
    {
        var header = new IfAddrMsg
        {
            ifa_family = NetlinkMessageBuilder.Family(address.AddressFamily),
            ifa_prefixlen = (byte)prefixLength,
            // Loopback addresses are host-scoped, everything else universe, as ip-address(8) picks.
            ifa_scope = IPAddress.IsLoopback(address) ? LinuxRtnetlink.RT_SCOPE_HOST : LinuxRtnetlink.RT_SCOPE_UNIVERSE,
            ifa_index = (uint)interfaceIndex,
        };
        return new NetlinkMessageBuilder(type, flags)
            .Header(header)
            .Attribute(LinuxIfAddr.IFA_LOCAL, address)
            .Attribute(LinuxIfAddr.IFA_ADDRESS, address);
    }
}
