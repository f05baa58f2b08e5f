namespace KataAgent.Host.Pods;

/// <summary>Kubernetes' spec.dnsConfig: the pod's resolv.conf.</summary>
public sealed record PodDnsConfig
{
    /// <summary>nameserver lines (IP addresses).</summary>
    public IReadOnlyList<string> Nameservers { get; init; } = [];

    /// <summary>The search line's domains.</summary>
    public IReadOnlyList<string> Searches { get; init; } = [];

    /// <summary>The options line: name, or name:value ("ndots:5").</summary>
    public IReadOnlyList<string> Options { get; init; } = [];
}
