using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Teardown;

/// <summary>
/// Puts back a pod interface's routes (the kernel flushed them with its last address): direct routes before
/// those via a gateway, which must be reachable again first.
/// </summary>
internal sealed record RestoreRoutesStep(string Name, IReadOnlyList<RouteEntry> Routes) : UndoStep
{
    public override string Describe() => $"restore the routes of {Name}";

    public override void Undo(UndoContext context)
    {
        if (context.Rtnl is not { } rtnl)
        {
            return;
        }
        foreach (var route in Routes.Where(r => rtnl.FindLink(r.OutputInterface) is not null).OrderBy(r => r.Gateway is null ? 0 : 1))
        {
            rtnl.ReplaceRoute(route);
        }
    }
}
