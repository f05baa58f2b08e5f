namespace KataAgent.Agent.Pods;

/// <summary>One container of a pod: its place in CreatePodRequest.containers, its name there and its container id.</summary>
internal sealed record PodMember(int Index, string Name, string ContainerId)
{
    /// <summary>How errors about it begin: <c>containers[1] (name "web")</c>.</summary>
    public string Field => $"containers[{Index}] (name \"{Name}\")";
}
