using KataAgent.Host.Network.Teardown;
using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Endpoints;

/// <summary>
/// What the tap models (tcfilter, macvtap) share: an rtnetlink handle bound to the pod netns, kept open
/// until teardown (it keeps working after CNI unmounted the path), the <see cref="UndoStack"/> of every
/// change made through it, and the guest NICs, one per pod interface.
/// </summary>
internal sealed class NetnsWiring
{
    private readonly string _namespacePath;
    private readonly Rtnetlink _rtnl;
    private readonly UndoStack _undo;

    private NetnsWiring(string namespacePath, Rtnetlink rtnl, UndoStack undo, IReadOnlyList<EndpointNic> nics)
    {
        _namespacePath = namespacePath;
        _rtnl = rtnl;
        _undo = undo;
        Nics = nics;
    }

    public IReadOnlyList<EndpointNic> Nics { get; }

    /// <summary>The changes made, journaled if the endpoint was given a journal.</summary>
    public UndoStack Undo => _undo;

    /// <summary>
    /// Calls <paramref name="wireInterface"/> for each pod interface with its index; it makes the changes and
    /// pushes their undo steps. A failure undoes what was done for the earlier interfaces (and the failing one,
    /// as far as it got), closes the handle and is thrown.
    /// </summary>
    public static NetnsWiring Wire(PodNetwork network, NetworkModel model, string? journalPath,
        Func<Rtnetlink, UndoStack, PodInterface, int, EndpointNic> wireInterface) =>
        Wire(network, network.Interfaces, model, journalPath, wireInterface);

    /// <summary>As the other form, for <paramref name="interfaces"/> of the netns in that order (a restore's: those the checkpointed NICs stand in for).</summary>
    public static NetnsWiring Wire(PodNetwork network, IReadOnlyList<PodInterface> interfaces, NetworkModel model, string? journalPath,
        Func<Rtnetlink, UndoStack, PodInterface, int, EndpointNic> wireInterface)
    {
        var undo = new UndoStack(network.NamespacePath, model, journalPath);
        var nics = new List<EndpointNic>();
        var rtnl = PodNetworkScanner.Open(network.NamespacePath);
        try
        {
            for (int i = 0; i < interfaces.Count; i++)
            {
                nics.Add(wireInterface(rtnl, undo, interfaces[i], i));
            }
        }
        catch (Exception e)
        {
            using (var context = new UndoContext(network.NamespacePath, rtnl))
            {
                undo.UndoAfter(e, context);
            }
            rtnl.Dispose();
            throw;
        }
        return new NetnsWiring(network.NamespacePath, rtnl, undo, nics);
    }

    /// <summary>Undoes every change, newest first, and closes the handle.</summary>
    public void TearDown()
    {
        using (_rtnl)
        using (var context = new UndoContext(_namespacePath, _rtnl))
        {
            _undo.UndoAll(context);
        }
    }
}
