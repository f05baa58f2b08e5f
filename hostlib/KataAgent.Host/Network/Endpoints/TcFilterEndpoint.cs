using KataAgent.Host.Network.Teardown;
using KataAgent.Host.Vm;
using KataAgent.Linux.Netlink.Route;
using KataAgent.Host.Network.Tun;

namespace KataAgent.Host.Network.Endpoints;

/// <summary>
/// Kata's default model (setupTCFiltering): per pod interface a tap <c>tap&lt;i&gt;_kata</c> with the
/// interface's MTU, an ingress qdisc on both, and u32 match-all filters whose mirred action
/// redirects every frame to the other's egress, in both directions. The guest NIC gets the veth's
/// MAC, so the CNI bridge sees the MAC it learned; the veth keeps its addresses (it never answers:
/// everything arriving on it is redirected before the stack sees it). The tap is persistent, so
/// qemu (in the same netns) opens it by name.
/// </summary>
public sealed class TcFilterEndpoint : NetworkEndpoint
{
    private readonly NetnsWiring _wiring;

    private TcFilterEndpoint(PodNetwork network, NetnsWiring wiring)
        : base(network, wiring.Nics)
    {
        _wiring = wiring;
    }

    /// <inheritdoc/>
    public override NetworkModel Model => NetworkModel.TcFilter;

    /// <summary>The name of the tap for the pod interface at <paramref name="index"/> (Kata's names: tap0_kata, tap1_kata, …).</summary>
    public static string TapName(int index) => $"tap{index}_kata";

    internal static TcFilterEndpoint SetUp(PodNetwork network, string? journalPath, int queues = 1) =>
        new(network, NetnsWiring.Wire(network, NetworkModel.TcFilter, journalPath, (rtnl, undo, pod, index) => WireTap(rtnl, undo, pod, index, queues, pod.Mac)));

    /// <summary>
    /// The wiring for a restored VM: a tap per checkpointed NIC, on <paramref name="interfaces"/> (the target netns's
    /// interfaces of the same names), with the NIC's own MAC and queues. The veth keeps its MAC: the redirect carries
    /// every frame whatever its address, and the guest's gratuitous ARP after the restore tells the peers its MAC.
    /// </summary>
    internal static TcFilterEndpoint Restore(PodNetwork network, IReadOnlyList<PodInterface> interfaces, IReadOnlyList<Checkpoints.NetworkCheckpointNic> nics, string? journalPath) =>
        new(network, NetnsWiring.Wire(network, interfaces, NetworkModel.TcFilter, journalPath,
            (rtnl, undo, pod, index) => WireTap(rtnl, undo, pod, index, nics[index].Queues, nics[index].GuestMac)));

    private protected override UndoStack Journal => _wiring.Undo;

    private static EndpointNic WireTap(Rtnetlink rtnl, UndoStack undo, PodInterface pod, int index, int queues, string guestMac)
    {
        string tapName = TapName(index);
        // A multi-queue tap must be made so (IFF_MULTI_QUEUE): qemu's queues=N attaches N queues to it by name.
        using (TapDevice.CreateInNamespace(undo.NamespacePath, tapName, queues, persist: true))
        {
            // Persistent: the tap outlives these descriptors; qemu attaches to it by name.
        }
        var tap = rtnl.GetLink(tapName);
        undo.Push(new DeleteLinkStep(tap.Index, tapName));
        rtnl.SetLinkMtu(tap.Index, pod.Link.Mtu);
        rtnl.SetLinkUp(tap.Index, true);

        // The tap's qdisc and filters go with the tap; the veth's must be removed explicitly.
        rtnl.AddIngressQdisc(tap.Index);
        rtnl.AddIngressQdisc(pod.Link.Index);
        undo.Push(new DeleteIngressQdiscStep(pod.Link.Index, pod.Name));
        rtnl.AddRedirectFilter(pod.Link.Index, tap.Index);
        rtnl.AddRedirectFilter(tap.Index, pod.Link.Index);

        return new EndpointNic(pod, new QemuNetworkDevice
        {
            Mac = guestMac,
            Netdev = $"tap,ifname={tapName},script=no,downscript=no,vhost=off",
            Queues = queues,
        }, "tap");
    }

    /// <inheritdoc/>
    protected override Task TearDownCoreAsync(CancellationToken cancellationToken)
    {
        _wiring.TearDown();
        return Task.CompletedTask;
    }
}
