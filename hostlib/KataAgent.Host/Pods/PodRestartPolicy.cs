namespace KataAgent.Host.Pods;

/// <summary>Kubernetes' spec.restartPolicy.</summary>
public enum PodRestartPolicy
{
    /// <summary>Restart a container whenever it exits.</summary>
    Always,

    /// <summary>Restart a container that exits with a non-zero status.</summary>
    OnFailure,

    /// <summary>Never restart: the pod ends when its containers have.</summary>
    Never,
}
