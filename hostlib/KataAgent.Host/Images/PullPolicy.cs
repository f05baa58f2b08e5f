namespace KataAgent.Host.Images;

/// <summary>When <see cref="HostImages.EnsureAsync"/> goes to the registry (docker's and Kubernetes' pull policies).</summary>
public enum PullPolicy
{
    /// <summary>Pull only when the store has no image of that name (docker's <c>missing</c>, Kubernetes' <c>IfNotPresent</c>).</summary>
    Missing,

    /// <summary>Always ask the registry: a tag that moved is pulled again (its unchanged layers are not downloaded twice).</summary>
    Always,

    /// <summary>Never ask the registry: an image the store lacks is <see cref="KataAgent.Image.ImageErrorKind.NotFound"/>.</summary>
    Never,
}
