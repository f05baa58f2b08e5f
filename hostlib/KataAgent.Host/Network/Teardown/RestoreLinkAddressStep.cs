using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Teardown;

/// <summary>Gives a pod interface back the MAC it had (<paramref name="Mac"/> as ip(8) writes it).</summary>
internal sealed record RestoreLinkAddressStep(int Index, string Name, string Mac) : UndoStep
{
    public override string Describe() => $"restore the MAC {Mac} of {Name}";

    public override void Undo(UndoContext context)
    {
        if (context.Rtnl is { } rtnl && rtnl.FindLink(Index) is not null)
        {
            rtnl.SetLinkAddress(Index, MacAddress.Parse(Mac));
        }
    }
}
