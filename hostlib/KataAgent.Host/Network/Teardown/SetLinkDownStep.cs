namespace KataAgent.Host.Network.Teardown;

/// <summary>Sets a pod interface down again that was down before the endpoint needed it up.</summary>
internal sealed record SetLinkDownStep(int Index, string Name) : UndoStep
{
    public override string Describe() => $"set {Name} down again";

    public override void Undo(UndoContext context)
    {
        if (context.Rtnl is { } rtnl && rtnl.FindLink(Index) is not null)
        {
            rtnl.SetLinkUp(Index, false);
        }
    }
}
