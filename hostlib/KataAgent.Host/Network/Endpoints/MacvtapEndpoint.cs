using System.Security.Cryptography;
using KataAgent.Host.Network.Teardown;
using KataAgent.Host.Vm;
using KataAgent.Linux.Interop;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Linux.Netlink.Uapi;

namespace KataAgent.Host.Network.Endpoints;

/// <summary>
/// Kata's macvtap model (tapNetworkPair): per pod interface a macvtap <c>tap&lt;i&gt;_kata</c> in bridge
/// mode on the veth, carrying the veth's MAC and MTU; the veth takes a random locally administered
/// MAC and gives up its addresses (the guest owns them now), both up. qemu gets /dev/tap&lt;ifindex&gt;
/// as a descriptor. The index is chosen at random from 8192 up because that device node lives in
/// the host's one /dev, shared by every netns, whose own index counters all start at 1.
/// Teardown gives the veth back its MAC, addresses, routes (the kernel flushed them with the last
/// address) and permanent neighbours (flushed by the MAC change).
/// </summary>
public sealed class MacvtapEndpoint : NetworkEndpoint
{
    private const int FirstIndex = 8192;
    private const int IndexAttempts = 128;

    private readonly NetnsWiring _wiring;

    private MacvtapEndpoint(PodNetwork network, NetnsWiring wiring)
        : base(network, wiring.Nics)
    {
        _wiring = wiring;
    }

    /// <inheritdoc/>
    public override NetworkModel Model => NetworkModel.Macvtap;

    internal static MacvtapEndpoint SetUp(PodNetwork network, string? journalPath) =>
        new(network, NetnsWiring.Wire(network, NetworkModel.Macvtap, journalPath,
            (rtnl, undo, pod, index) => Wire(rtnl, undo, pod, TcFilterEndpoint.TapName(index), guestMac: null)));

    /// <summary>
    /// The wiring for a restored VM: a macvtap per checkpointed NIC on <paramref name="interfaces"/> (the target netns's
    /// interfaces of the same names) carrying the NIC's own MAC, since macvtap delivers by destination MAC.
    /// </summary>
    internal static MacvtapEndpoint Restore(PodNetwork network, IReadOnlyList<PodInterface> interfaces, IReadOnlyList<Checkpoints.NetworkCheckpointNic> nics, string? journalPath) =>
        new(network, NetnsWiring.Wire(network, interfaces, NetworkModel.Macvtap, journalPath,
            (rtnl, undo, pod, index) => Wire(rtnl, undo, pod, TcFilterEndpoint.TapName(index), MacAddress.Parse(nics[index].GuestMac))));

    private protected override UndoStack Journal => _wiring.Undo;

    /// <summary>Wires one interface; the macvtap (and so the guest) gets <paramref name="guestMac"/>, or the veth's own MAC when null.</summary>
    private static EndpointNic Wire(Rtnetlink rtnl, UndoStack undo, PodInterface pod, string tapName, byte[]? guestMac)
    {
        var veth = rtnl.GetLink(pod.Link.Index);
        byte[] vethMac = veth.Address ?? throw new PodNetworkException($"{veth.Name} has no MAC address: macvtap needs an Ethernet link");
        byte[] nicMac = guestMac ?? vethMac;
        var addresses = rtnl.ListAddresses(veth.Index).Where(a => !a.Address.IsIPv6LinkLocal).ToList();
        var routes = rtnl.ListRoutes().Where(r => r.OutputInterface == veth.Index && r.Protocol != LinuxRtnetlink.RTPROT_KERNEL).ToList();
        var neighbours = rtnl.ListNeighbours(veth.Index).Where(n => (n.State & LinuxNeighbour.NUD_PERMANENT) != 0).ToList();

        // The veth gives up its MAC first: a macvtap may not take its lower device's MAC (EADDRINUSE).
        // Undone in reverse: macvtap deleted, MAC back (which flushes neighbours), then the neighbours.
        undo.Push(new RestoreNeighboursStep(veth.Name, neighbours));
        rtnl.SetLinkAddress(veth.Index, RandomLocalMac());
        undo.Push(new RestoreLinkAddressStep(veth.Index, veth.Name, MacAddress.Format(vethMac)));
        var macvtap = CreateWithFreeIndex(rtnl, tapName, veth.Index);
        undo.Push(new DeleteLinkStep(macvtap.Index, tapName));
        rtnl.SetLinkAddress(macvtap.Index, nicMac);
        rtnl.SetLinkMtu(macvtap.Index, veth.Mtu);

        // Routes after addresses (a gateway must be reachable again), direct routes before those via a gateway.
        undo.Push(new RestoreRoutesStep(veth.Name, routes));
        foreach (var address in addresses)
        {
            rtnl.DeleteAddress(veth.Index, address.Address, address.PrefixLength);
            undo.Push(new RestoreAddressStep(veth.Name, address));
        }

        if (!veth.IsUp)
        {
            rtnl.SetLinkUp(veth.Index, true);
            undo.Push(new SetLinkDownStep(veth.Index, veth.Name));
        }
        rtnl.SetLinkUp(macvtap.Index, true);
        return new EndpointNic(pod, new QemuNetworkDevice
        {
            Mac = MacAddress.Format(nicMac),
            Netdev = "tap,vhost=off",
            OpenFile = $"/dev/tap{macvtap.Index}",
        }, "macvtap");
    }

    private static NetworkLink CreateWithFreeIndex(Rtnetlink rtnl, string name, int lowerIndex)
    {
        for (int attempt = 1; ; attempt++)
        {
            int index = FirstIndex + RandomNumberGenerator.GetInt32(1 << 20);
            try
            {
                return rtnl.CreateMacvtap(name, lowerIndex, index);
            }
            catch (LinuxException e) when (e.Errno is Errno.EBUSY or Errno.EEXIST && attempt < IndexAttempts && rtnl.FindLink(name) is null)
            {
                // That index is taken in this netns; another one.
            }
        }
    }

    /// <summary>A random unicast, locally administered MAC (bit 1 of the first octet set, bit 0 clear).</summary>
    internal static byte[] RandomLocalMac()
    {
        byte[] mac = RandomNumberGenerator.GetBytes(6);
        mac[0] = (byte)((mac[0] & 0xfe) | 0x02);
        return mac;
    }

    /// <inheritdoc/>
    protected override Task TearDownCoreAsync(CancellationToken cancellationToken)
    {
        _wiring.TearDown();
        return Task.CompletedTask;
    }
}
