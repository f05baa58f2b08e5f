namespace KataAgent.Shim.Tasks;

/// <summary>
/// Tells a sandbox from a pod's container by the annotations containerd's CRI and CRI-O put in the spec, in Kata's
/// order (containerd's keys first, then CRI-O's): <c>io.kubernetes.cri.container-type</c> = sandbox|container with
/// <c>io.kubernetes.cri.sandbox-id</c>; <c>io.kubernetes.cri-o.ContainerType</c> with <c>io.kubernetes.cri-o.SandboxID</c>.
/// </summary>
internal static class PodGrouping
{
    public const string CriContainerType = "io.kubernetes.cri.container-type";
    public const string CriSandboxId = "io.kubernetes.cri.sandbox-id";
    public const string CriOContainerType = "io.kubernetes.cri-o.ContainerType";
    public const string CriOSandboxId = "io.kubernetes.cri-o.SandboxID";

    /// <summary>The role of task <paramref name="taskId"/> and the id of its pod's sandbox (its own id unless it is a pod's container).</summary>
    /// <exception cref="TaskException">A container annotation without its sandbox id, or an unknown container type (InvalidArgument naming the annotation).</exception>
    public static (PodRole Role, string SandboxId) Classify(IReadOnlyDictionary<string, string> annotations, string taskId)
    {
        ArgumentNullException.ThrowIfNull(annotations);
        foreach (var (typeKey, idKey) in new[] { (CriContainerType, CriSandboxId), (CriOContainerType, CriOSandboxId) })
        {
            if (!annotations.TryGetValue(typeKey, out string? type))
            {
                continue;
            }
            switch (type)
            {
                case "sandbox":
                    return (PodRole.Sandbox, taskId);
                case "container":
                    if (!annotations.TryGetValue(idKey, out string? sandboxId) || sandboxId.Length == 0)
                    {
                        throw TaskException.InvalidArgument($"annotations[{idKey}]", $"is missing, but {typeKey} says this is a pod's container");
                    }
                    if (sandboxId == taskId)
                    {
                        throw TaskException.InvalidArgument($"annotations[{idKey}]", "names the container itself, but a pod's container joins another sandbox");
                    }
                    return (PodRole.PodContainer, sandboxId);
                default:
                    throw TaskException.InvalidArgument($"annotations[{typeKey}]", $"'{type}' is neither 'sandbox' nor 'container'");
            }
        }
        return (PodRole.Single, taskId);
    }
}
