namespace KataAgent.Host.Pods;

/// <summary>One container of a pod, as Kubernetes' spec.containers[] describes it.</summary>
public sealed record PodContainerSpec
{
    /// <summary>A DNS label, unique in the pod.</summary>
    public required string Name { get; init; }

    /// <summary>An image reference; null when <see cref="Rootfs"/> gives the root directory instead.</summary>
    public string? Image { get; init; }

    /// <summary>A root filesystem directory on the host (not in Kubernetes: the library's alternative to an image).</summary>
    public string? Rootfs { get; init; }

    /// <summary>The entrypoint (Kubernetes' command); null keeps the image's.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>The arguments (Kubernetes' args); null keeps the image's Cmd (when <see cref="Command"/> is null too).</summary>
    public IReadOnlyList<string>? Args { get; init; }

    /// <summary>Environment variables in order; later ones may refer to earlier ones as $(NAME), as Kubernetes expands them.</summary>
    public IReadOnlyList<PodEnvVar> Env { get; init; } = [];

    /// <summary>The working directory; null keeps the image's.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>resources.requests and resources.limits.</summary>
    public PodResources Resources { get; init; } = new();

    /// <summary>volumeMounts.</summary>
    public IReadOnlyList<PodVolumeMount> VolumeMounts { get; init; } = [];

    /// <summary>ports: informational, as in Kubernetes (the pod network reaches every port).</summary>
    public IReadOnlyList<PodContainerPort> Ports { get; init; } = [];

    /// <summary>securityContext; null for the defaults.</summary>
    public PodSecurityContext? SecurityContext { get; init; }

    /// <summary>tty: give the process a terminal.</summary>
    public bool Tty { get; init; }

    /// <summary>stdin: keep the process's stdin open.</summary>
    public bool Stdin { get; init; }
}
