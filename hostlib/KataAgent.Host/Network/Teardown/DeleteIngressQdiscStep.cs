namespace KataAgent.Host.Network.Teardown;

/// <summary>Deletes the ingress qdisc (and with it the redirect filters) an endpoint added to a pod interface.</summary>
internal sealed record DeleteIngressQdiscStep(int Index, string Name) : UndoStep
{
    public override string Describe() => $"delete the ingress qdisc of {Name}";

    public override void Undo(UndoContext context)
    {
        if (context.Rtnl is { } rtnl && rtnl.ListQdiscs(Index).Any(q => q.Kind == "ingress"))
        {
            rtnl.DeleteIngressQdisc(Index);
        }
    }
}
