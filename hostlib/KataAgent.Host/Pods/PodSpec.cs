namespace KataAgent.Host.Pods;

/// <summary>
/// A whole pod as a runtime author describes it: in C#, or loaded from a Kubernetes Pod manifest by
/// <see cref="PodManifest"/>. <see cref="Pod.CreateAsync"/> runs it in one VM sized from its requests.
/// </summary>
public sealed partial record PodSpec
{
    /// <summary>The pod's name (metadata.name): a DNS subdomain of at most 128 characters (the sandbox id's limit); the sandbox id unless <see cref="PodOptions.Id"/> says otherwise.</summary>
    public required string Name { get; init; }

    /// <summary>metadata.namespace, kept for display (a DNS label); empty when the manifest gives none.</summary>
    public string Namespace { get; init; } = "";

    /// <summary>The containers, created and started in this order.</summary>
    public required IReadOnlyList<PodContainerSpec> Containers { get; init; }

    /// <summary>The pod's volumes, mounted into containers by <see cref="PodVolumeMount"/>.</summary>
    public IReadOnlyList<PodVolumeSpec> Volumes { get; init; } = [];

    /// <summary>What happens when a container exits (spec.restartPolicy).</summary>
    public PodRestartPolicy RestartPolicy { get; init; } = PodRestartPolicy.Always;

    /// <summary>The pod's hostname (spec.hostname); empty for <see cref="Name"/>.</summary>
    public string Hostname { get; init; } = "";

    /// <summary>The pod's resolv.conf settings (spec.dnsConfig); null for none.</summary>
    public PodDnsConfig? DnsConfig { get; init; }

    /// <summary>metadata.annotations, passed to the agent as they are.</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();

    /// <summary>metadata.labels, kept for display.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>A check the guest runs before any container may start (docs/PODS.md "Start gate"); null for none.</summary>
    public PodStartGate? StartGate { get; init; }

    /// <summary>
    /// The guest's hostname: <see cref="Hostname"/>, or as kubelet makes it from the name: its first 63 characters,
    /// without a trailing '-' or '.' (a name may be a 253-character subdomain; a hostname is at most 63).
    /// </summary>
    internal string GuestHostname =>
        Hostname.Length > 0 ? Hostname : Name.Length <= 63 ? Name : Name[..63].TrimEnd('-', '.');
}
