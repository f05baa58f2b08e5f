using KataAgent.Host.Pods.Manifests;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KataAgent.Host.Pods;

/// <summary>
/// Loads a Kubernetes Pod manifest (YAML or JSON; apiVersion v1, kind Pod) into a <see cref="PodSpec"/>. Every field
/// it does not support is an error naming the field ("spec.containers[0].livenessProbe"), never silently dropped;
/// quantities are parsed as Kubernetes parses them (<see cref="ResourceQuantity"/>). docs/PODS.md "Pod manifests"
/// lists the fields and this runtime's annotations.
/// </summary>
/// <remarks>
/// YAML is read through YamlDotNet's representation model (no reflection, so Native AOT is clean), with plain
/// scalars resolved as Kubernetes' YAML reader resolves them: an unquoted <c>yes</c> is a boolean, an unquoted
/// <c>8080</c> a number. A field set to null is absent, as in Kubernetes. Kubernetes' API defaults apply: requests
/// default to limits, a volume without a source is an emptyDir, restartPolicy defaults to Always.
/// </remarks>
public static partial class PodManifest
{
    /// <summary>Annotation: the start gate's command, a JSON array of strings (<see cref="PodStartGate.Args"/>).</summary>
    public const string StartGateAnnotation = "kataagent.io/start-gate";

    /// <summary>Annotation: the container whose image the start gate runs in (<see cref="PodStartGate.Container"/>).</summary>
    public const string StartGateContainerAnnotation = "kataagent.io/start-gate-container";

    /// <summary>Annotation: how long the start gate may run, as a Go duration ("90s", "5m"; <see cref="PodStartGate.Timeout"/>).</summary>
    public const string StartGateTimeoutAnnotation = "kataagent.io/start-gate-timeout";

    /// <summary>Annotation: the start gate's environment, a JSON array of "NAME=value" strings (<see cref="PodStartGate.Env"/>).</summary>
    public const string StartGateEnvAnnotation = "kataagent.io/start-gate-env";

    /// <summary>Annotation: block volumes, a JSON object from a volume's name to its disk (<see cref="BlockVolumeSource"/>; docs/PODS.md).</summary>
    public const string BlockVolumesAnnotation = "kataagent.io/block-volumes";

    /// <summary>This runtime's annotations' prefix: an annotation under it that is none of the above is an error (a typo, most likely).</summary>
    public const string AnnotationPrefix = "kataagent.io/";

    private static readonly IReadOnlySet<string> PodFields = KubernetesFields.Set("apiVersion", "kind", "metadata", "spec", "status");
    private static readonly IReadOnlySet<string> MetadataFields = KubernetesFields.Set("name", "namespace", "labels", "annotations");
    private static readonly IReadOnlySet<string> SpecFields = KubernetesFields.Set("containers", "volumes", "restartPolicy", "hostname", "dnsConfig", "dnsPolicy");

    /// <summary>Parses a manifest's text.</summary>
    /// <exception cref="PodManifestException">The manifest is malformed or uses an unsupported field: the message names it.</exception>
    public static PodSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pod = ManifestObject.Root(LoadDocument(text));
        pod.Only(PodFields, KubernetesFields.Pod);
        if (pod.String("apiVersion") is not { } apiVersion)
        {
            throw pod.ErrorAt("apiVersion", "required (v1)");
        }
        if (apiVersion != "v1")
        {
            throw pod.ErrorAt("apiVersion", $"'{apiVersion}' is not supported (v1)");
        }
        if (pod.String("kind") is not { } kind)
        {
            throw pod.ErrorAt("kind", "required (Pod)");
        }
        if (kind != "Pod")
        {
            throw pod.ErrorAt("kind", $"'{kind}' is not supported: a manifest here is one Pod");
        }
        if (pod.Object("status") is { } status && status.Names.Any())
        {
            throw pod.ErrorAt("status", "is what a runtime reports, not a request: remove it");
        }
        var metadata = pod.Object("metadata") ?? throw pod.ErrorAt("metadata", "required (a name at least)");
        var spec = pod.Object("spec") ?? throw pod.ErrorAt("spec", "required (its containers at least)");

        metadata.Only(MetadataFields, KubernetesFields.ObjectMeta);
        var annotations = metadata.StringMap("annotations");
        var annotationMap = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in annotations)
        {
            annotationMap[key] = value;
        }
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata.StringMap("labels"))
        {
            labels[key] = value;
        }

        spec.Only(SpecFields, KubernetesFields.PodSpec);
        var blockVolumes = BlockVolumes(metadata, annotationMap);
        var result = new PodSpec
        {
            Name = metadata.RequiredString("name"),
            Namespace = metadata.String("namespace") ?? "",
            Labels = labels,
            Annotations = annotationMap,
            Containers = Containers(spec),
            Volumes = Volumes(spec, blockVolumes),
            RestartPolicy = RestartPolicy(spec),
            Hostname = spec.String("hostname") ?? "",
            DnsConfig = DnsConfig(spec),
            StartGate = StartGate(metadata, annotationMap),
        };
        result.Validate();
        return result;
    }

    /// <summary>Reads and parses a manifest file.</summary>
    /// <exception cref="PodManifestException">As <see cref="Parse"/>; the message also names the file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static async Task<PodSpec> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return Parse(text);
        }
        catch (PodManifestException e)
        {
            throw e.InFile(path);
        }
    }

    /// <summary>The one document of <paramref name="text"/>; empty documents (a stray "---") are skipped, as kubectl skips them.</summary>
    private static YamlNode LoadDocument(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new PodManifestException("", $"not valid YAML or JSON: {YamlProblem(e)}", (int)e.Start.Line, file: null);
        }
        var documents = stream.Documents
            .Where(d => d.RootNode is not YamlScalarNode scalar || YamlScalars.Kind(scalar) != YamlScalarKind.Null)
            .ToList();
        return documents.Count switch
        {
            0 => throw new PodManifestException("", "the manifest is empty"),
            1 => documents[0].RootNode,
            _ => throw new PodManifestException("", $"the manifest holds {documents.Count} documents; it must hold one Pod", (int)documents[1].RootNode.Start.Line, file: null),
        };
    }

    // YamlException's message starts with its positions, "(Line: 3, Col: 5, Idx: 20) - (…): "; the line is reported apart.
    private static string YamlProblem(YamlException e)
    {
        string message = e.Message;
        int end = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && end >= 0 ? message[(end + 3)..] : message;
    }

    private static PodRestartPolicy RestartPolicy(ManifestObject spec) => spec.String("restartPolicy") switch
    {
        null or "Always" => PodRestartPolicy.Always,
        "OnFailure" => PodRestartPolicy.OnFailure,
        "Never" => PodRestartPolicy.Never,
        var other => throw spec.ErrorAt("restartPolicy", $"'{other}' is not Always, OnFailure or Never"),
    };

    private static PodDnsConfig? DnsConfig(ManifestObject spec)
    {
        // There is no cluster DNS here: ClusterFirst falls back to Default, as kubelet does without one, and both
        // leave resolv.conf to the runtime; None takes dnsConfig alone, which must then name a nameserver.
        string policy = spec.String("dnsPolicy") ?? "ClusterFirst";
        if (policy is not ("ClusterFirst" or "Default" or "None"))
        {
            throw spec.ErrorAt("dnsPolicy", policy == "ClusterFirstWithHostNet" ? "not supported (no hostNetwork)" : $"'{policy}' is not ClusterFirst, Default or None");
        }
        if (spec.Object("dnsConfig") is not { } dns)
        {
            return policy == "None" ? throw spec.ErrorAt("dnsConfig", "required with dnsPolicy None (a nameserver at least)") : null;
        }
        dns.Only(KubernetesFields.DnsConfig, KubernetesFields.DnsConfig);
        var options = new List<string>();
        foreach (var option in dns.Objects("options"))
        {
            option.Only(KubernetesFields.DnsConfigOption, KubernetesFields.DnsConfigOption);
            string name = option.RequiredString("name");
            options.Add(option.String("value") is { } value ? $"{name}:{value}" : name);
        }
        var config = new PodDnsConfig
        {
            Nameservers = dns.Strings("nameservers") ?? [],
            Searches = dns.Strings("searches") ?? [],
            Options = options,
        };
        if (policy == "None" && config.Nameservers.Count == 0)
        {
            throw dns.ErrorAt("nameservers", "required with dnsPolicy None");
        }
        return config;
    }
}
