using KataAgent.Linux.Namespaces;

namespace KataAgent.Host.Network.Teardown;

/// <summary>Gives the pod netns back the <c>net.ipv4.ping_group_range</c> it had before passt needed ping sockets.</summary>
internal sealed record RestorePingGroupRangeStep(string Range) : UndoStep
{
    public const string SysctlPath = "/proc/sys/net/ipv4/ping_group_range";

    public override string Describe() => $"restore ping_group_range \"{Range}\"";

    public override void Undo(UndoContext context)
    {
        if (File.Exists(context.NamespacePath))
        {
            NetworkNamespace.Run(context.NamespacePath, () => File.WriteAllText(SysctlPath, Range));
        }
    }
}
