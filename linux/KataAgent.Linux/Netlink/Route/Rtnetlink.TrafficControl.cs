using System.Runtime.InteropServices;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>
/// tc: the ingress qdisc and u32 match-all filters with a mirred egress redirect, the pieces of
/// Kata's tcfilter network model (tc qdisc add dev X ingress; tc filter add dev X parent ffff:
/// protocol all u32 match u8 0 0 action mirred egress redirect dev Y).
/// </summary>
internal sealed partial class Rtnetlink
{
    /// <summary>Adds the ingress qdisc (handle ffff:) to a link.</summary>
    public void AddIngressQdisc(int interfaceIndex)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWQDISC, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL)
            .Header(IngressQdisc(interfaceIndex))
            .Attribute(LinuxRtnetlink.TCA_KIND, "ingress");
        _socket.Execute(request, $"add ingress qdisc to link {interfaceIndex}");
    }

    /// <summary>Deletes a link's ingress qdisc, and with it every filter attached to it.</summary>
    public void DeleteIngressQdisc(int interfaceIndex) =>
        _socket.Execute(new NetlinkMessageBuilder(LinuxRtnetlink.RTM_DELQDISC, 0).Header(IngressQdisc(interfaceIndex)), $"delete ingress qdisc of link {interfaceIndex}");

    /// <summary>Qdiscs of one link (or all links).</summary>
    public IReadOnlyList<QdiscEntry> ListQdiscs(int? interfaceIndex = null)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETQDISC, 0).Header(new TcMsg { tcm_ifindex = interfaceIndex ?? 0 });
        return _socket.Dump(request, "list qdiscs")
            .Where(m => m.Type == LinuxRtnetlink.RTM_NEWQDISC)
            .Select(ParseQdisc)
            .Where(q => interfaceIndex is null || q.InterfaceIndex == interfaceIndex)
            .ToList();
    }

    /// <summary>
    /// Adds a u32 filter under the ingress qdisc of <paramref name="fromIndex"/> that matches every
    /// packet of every protocol and redirects it to the egress of <paramref name="toIndex"/>.
    /// Priority 0 lets the kernel choose one.
    /// </summary>
    public void AddRedirectFilter(int fromIndex, int toIndex, ushort priority = 0)
    {
        var selector = new TcU32Sel { flags = LinuxPktSched.TC_U32_TERMINAL, nkeys = 1 };
        var key = new TcU32Key(); // mask 0, value 0 at offset 0: matches everything
        Span<byte> sel = stackalloc byte[Marshal.SizeOf<TcU32Sel>() + Marshal.SizeOf<TcU32Key>()];
        MemoryMarshal.Write(sel, in selector);
        MemoryMarshal.Write(sel[Marshal.SizeOf<TcU32Sel>()..], in key);
        var mirred = new TcMirred { action = LinuxPktSched.TC_ACT_STOLEN, eaction = LinuxPktSched.TCA_EGRESS_REDIR, ifindex = (uint)toIndex };

        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_NEWTFILTER, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL)
            .Header(new TcMsg
            {
                tcm_ifindex = fromIndex,
                tcm_parent = LinuxPktSched.TC_H_INGRESS_HANDLE,
                tcm_info = FilterInfo(priority, LinuxPktSched.ETH_P_ALL),
            })
            .Attribute(LinuxRtnetlink.TCA_KIND, "u32")
            .BeginNested(LinuxRtnetlink.TCA_OPTIONS)
            .Attribute(LinuxPktSched.TCA_U32_SEL, sel)
            .BeginNested(LinuxPktSched.TCA_U32_ACT)
            .BeginNested(1) // the first (and only) action of the list
            .Attribute(LinuxPktSched.TCA_ACT_KIND, "mirred")
            .BeginNested(LinuxPktSched.TCA_ACT_OPTIONS)
            .StructAttribute(LinuxPktSched.TCA_MIRRED_PARMS, mirred)
            .EndNested()
            .EndNested()
            .EndNested()
            .EndNested();
        _socket.Execute(request, $"add u32 redirect filter from link {fromIndex} to link {toIndex}");
    }

    /// <summary>Filters under <paramref name="parent"/> (default: the ingress qdisc) of a link.</summary>
    public IReadOnlyList<TcFilterEntry> ListFilters(int interfaceIndex, uint parent = LinuxPktSched.TC_H_INGRESS_HANDLE)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_GETTFILTER, 0).Header(new TcMsg { tcm_ifindex = interfaceIndex, tcm_parent = parent });
        return _socket.Dump(request, $"list filters of link {interfaceIndex} parent {TcHandle.Format(parent)}")
            .Where(m => m.Type == LinuxRtnetlink.RTM_NEWTFILTER)
            .Select(ParseFilter)
            .ToList();
    }

    /// <summary>Deletes the filters of one priority and protocol under <paramref name="parent"/>; priority 0 deletes them all.</summary>
    public void DeleteFilters(int interfaceIndex, uint parent = LinuxPktSched.TC_H_INGRESS_HANDLE, ushort priority = 0, ushort protocol = 0)
    {
        var request = new NetlinkMessageBuilder(LinuxRtnetlink.RTM_DELTFILTER, 0)
            .Header(new TcMsg { tcm_ifindex = interfaceIndex, tcm_parent = parent, tcm_info = FilterInfo(priority, protocol) });
        _socket.Execute(request, $"delete filters of link {interfaceIndex} parent {TcHandle.Format(parent)}{(priority == 0 ? "" : $" prio {priority}")}");
    }

    public static QdiscEntry ParseQdisc(NetlinkMessage message)
    {
        var header = message.Header<TcMsg>();
        var attributes = message.Attributes<TcMsg>();
        return new QdiscEntry(header.tcm_ifindex, header.tcm_handle, header.tcm_parent, attributes.String(LinuxRtnetlink.TCA_KIND) ?? "");
    }

    public static TcFilterEntry ParseFilter(NetlinkMessage message)
    {
        var header = message.Header<TcMsg>();
        var attributes = message.Attributes<TcMsg>();
        string kind = attributes.String(LinuxRtnetlink.TCA_KIND) ?? "";
        byte? u32Flags = null;
        var keys = new List<(uint, uint, int)>();
        var actions = new List<MirredAction>();
        if (kind == "u32")
        {
            var options = attributes.Nested(LinuxRtnetlink.TCA_OPTIONS);
            if (options.TryGet(LinuxPktSched.TCA_U32_SEL, out var selAttribute))
            {
                var selector = selAttribute.ReadStruct<TcU32Sel>();
                int keySize = Marshal.SizeOf<TcU32Key>();
                int start = Marshal.SizeOf<TcU32Sel>();
                if (selAttribute.Payload.Length < start + selector.nkeys * keySize)
                {
                    throw new NetlinkFormatException($"TCA_U32_SEL of {selAttribute.Payload.Length} bytes is too short for its {selector.nkeys} keys");
                }
                u32Flags = selector.flags;
                for (int i = 0; i < selector.nkeys; i++)
                {
                    var key = MemoryMarshal.Read<TcU32Key>(selAttribute.Payload.Span[(start + i * keySize)..]);
                    keys.Add((key.mask, key.val, key.off));
                }
            }
            foreach (var element in options.Nested(LinuxPktSched.TCA_U32_ACT))
            {
                var action = element.Nested();
                string actionKind = action.String(LinuxPktSched.TCA_ACT_KIND) ?? "";
                var parms = action.Nested(LinuxPktSched.TCA_ACT_OPTIONS);
                if (actionKind == "mirred" && parms.TryGet(LinuxPktSched.TCA_MIRRED_PARMS, out var p))
                {
                    var mirred = p.ReadStruct<TcMirred>();
                    actions.Add(new MirredAction(actionKind, mirred.eaction, (int)mirred.ifindex, mirred.action));
                }
                else
                {
                    actions.Add(new MirredAction(actionKind, 0, 0, 0));
                }
            }
        }
        return new TcFilterEntry
        {
            InterfaceIndex = header.tcm_ifindex,
            Parent = header.tcm_parent,
            Handle = header.tcm_handle,
            Priority = (ushort)(header.tcm_info >> 16),
            Protocol = (ushort)System.Net.IPAddress.NetworkToHostOrder((short)(header.tcm_info & 0xFFFF)),
            Kind = kind,
            U32Flags = u32Flags,
            U32Keys = keys,
            Actions = actions,
        };
    }

    private static TcMsg IngressQdisc(int interfaceIndex) => new()
    {
        tcm_ifindex = interfaceIndex,
        tcm_handle = LinuxPktSched.TC_H_INGRESS_HANDLE,
        tcm_parent = LinuxPktSched.TC_H_INGRESS,
    };

    /// <summary>TC_H_MAKE(prio &lt;&lt; 16, htons(protocol)).</summary>
    private static uint FilterInfo(ushort priority, ushort protocol) =>
        ((uint)priority << 16) | (ushort)System.Net.IPAddress.HostToNetworkOrder((short)protocol);
}
