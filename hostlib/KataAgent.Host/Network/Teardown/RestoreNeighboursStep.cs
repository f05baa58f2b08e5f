using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Teardown;

/// <summary>Puts back a pod interface's permanent neighbours (a MAC change flushes them).</summary>
internal sealed record RestoreNeighboursStep(string Name, IReadOnlyList<NeighbourEntry> Neighbours) : UndoStep
{
    public override string Describe() => $"restore the permanent neighbours of {Name}";

    public override void Undo(UndoContext context)
    {
        if (context.Rtnl is not { } rtnl)
        {
            return;
        }
        foreach (var neighbour in Neighbours.Where(n => rtnl.FindLink(n.InterfaceIndex) is not null))
        {
            rtnl.ReplaceNeighbour(neighbour);
        }
    }
}
