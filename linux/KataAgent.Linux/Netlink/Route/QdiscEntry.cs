namespace KataAgent.Linux.Netlink.Route;

/// <summary>A queueing discipline as RTM_NEWQDISC describes it.</summary>
internal sealed record QdiscEntry(int InterfaceIndex, uint Handle, uint Parent, string Kind)
{
    public override string ToString() => $"qdisc {Kind} {TcHandle.Format(Handle)} parent {TcHandle.Format(Parent)} ifindex {InterfaceIndex}";
}
