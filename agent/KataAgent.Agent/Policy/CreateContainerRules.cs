namespace KataAgent.Agent.Policy;

/// <summary>CreateContainer's field rules: the image, annotations, bind mounts, and the init process (<see cref="ProcessRules"/>).</summary>
internal sealed class CreateContainerRules : ProcessRules
{
    /// <summary>
    /// Allowed image names (globs), matched against the CRI image annotation
    /// (<c>io.kubernetes.cri.image-name</c>, or CRI-O's <c>io.kubernetes.cri-o.ImageName</c>).
    /// </summary>
    public List<string>? Images { get; set; }

    /// <summary>Allowed annotation keys (globs): every key of <c>OCI.Annotations</c> must match one.</summary>
    public List<string>? Annotations { get; set; }

    /// <summary>Allowed sources of bind mounts (globs): every bind mount's source must match one.</summary>
    public List<string>? BindMountSources { get; set; }
}
