using KataAgent.Linux.Netlink.Route;

namespace KataAgent.Host.Network.Teardown;

/// <summary>Puts an address back on the pod interface it was taken from, unless it is there already.</summary>
internal sealed record RestoreAddressStep(string Name, InterfaceAddress Address) : UndoStep
{
    public override string Describe() => $"restore {Address} on {Name}";

    public override void Undo(UndoContext context)
    {
        int index = Address.InterfaceIndex;
        if (context.Rtnl is not { } rtnl || rtnl.FindLink(index) is null
            || rtnl.ListAddresses(index).Any(a => a.Address.Equals(Address.Address) && a.PrefixLength == Address.PrefixLength))
        {
            return;
        }
        rtnl.AddAddress(index, Address.Address, Address.PrefixLength, Address.Broadcast, computeBroadcast: false);
    }
}
