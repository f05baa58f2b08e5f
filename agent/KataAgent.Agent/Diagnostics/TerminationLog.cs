namespace KataAgent.Agent.Diagnostics;

/// <summary>
/// Where a container's termination message is: Kubernetes' terminationMessagePath
/// (<c>/dev/termination-log</c> unless the pod names another, which kubelet passes as the
/// <c>io.kubernetes.container.terminationMessagePath</c> annotation) and, when the spec bind-mounts a
/// file there, that file's path in the guest.
/// </summary>
/// <param name="MessagePath">The path inside the container.</param>
/// <param name="Source">The guest path of the file mounted there, or null when none is.</param>
public sealed record TerminationLog(string MessagePath, string? Source)
{
    /// <summary>Kubernetes' default terminationMessagePath.</summary>
    public const string DefaultPath = "/dev/termination-log";

    /// <summary>The annotation that carries a pod's own terminationMessagePath.</summary>
    public const string PathAnnotation = "io.kubernetes.container.terminationMessagePath";

    /// <summary>The termination log of a container created from <paramref name="spec"/>.</summary>
    public static TerminationLog From(Protocols.Agent.Spec spec)
    {
        string path = spec.Annotations.TryGetValue(PathAnnotation, out string? annotated) && annotated.StartsWith('/') ? annotated : DefaultPath;
        var mount = spec.Mounts.LastOrDefault(m => m.Destination == path);
        return new TerminationLog(path, mount?.Source is { Length: > 0 } source ? source : null);
    }
}
