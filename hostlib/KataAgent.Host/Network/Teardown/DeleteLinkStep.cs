namespace KataAgent.Host.Network.Teardown;

/// <summary>Deletes the tap or macvtap an endpoint created: the link at <paramref name="Index"/> if it still has that name.</summary>
internal sealed record DeleteLinkStep(int Index, string Name) : UndoStep
{
    public override string Describe() => $"delete {Name} (index {Index})";

    public override void Undo(UndoContext context)
    {
        if (context.Rtnl is { } rtnl && rtnl.FindLink(Index) is { } link && link.Name == Name)
        {
            rtnl.DeleteLink(Index);
        }
    }
}
