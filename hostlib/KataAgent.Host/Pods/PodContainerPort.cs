namespace KataAgent.Host.Pods;

/// <summary>One entry of a container's ports.</summary>
public sealed record PodContainerPort
{
    /// <summary>containerPort.</summary>
    public required int ContainerPort { get; init; }

    /// <summary>protocol: TCP, UDP or SCTP.</summary>
    public string Protocol { get; init; } = "TCP";

    /// <summary>name; null for none.</summary>
    public string? Name { get; init; }
}
