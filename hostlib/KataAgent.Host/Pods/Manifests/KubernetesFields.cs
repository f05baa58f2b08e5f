namespace KataAgent.Host.Pods.Manifests;

/// <summary>
/// The fields Kubernetes' core/v1 types have (Kubernetes 1.34), so a field we do not take is reported as "not
/// supported" when Kubernetes has it and as "unknown field" (a typo, most likely) when it does not.
/// </summary>
internal static class KubernetesFields
{
    /// <summary>Pod.</summary>
    public static readonly IReadOnlySet<string> Pod = Set("apiVersion", "kind", "metadata", "spec", "status");

    /// <summary>ObjectMeta.</summary>
    public static readonly IReadOnlySet<string> ObjectMeta = Set(
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
        "managedFields");

    /// <summary>PodSpec.</summary>
    public static readonly IReadOnlySet<string> PodSpec = Set(
        "volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
        "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
        "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace",
        "securityContext", "imagePullSecrets", "hostname", "subdomain", "affinity", "schedulerName", "tolerations",
        "hostAliases", "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
        "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os",
        "hostUsers", "schedulingGates", "resourceClaims", "resources", "hostnameOverride");

    /// <summary>Container.</summary>
    public static readonly IReadOnlySet<string> Container = Set(
        "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
        "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
        "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
        "securityContext", "stdin", "stdinOnce", "tty");

    /// <summary>ResourceRequirements.</summary>
    public static readonly IReadOnlySet<string> ResourceRequirements = Set("limits", "requests", "claims");

    /// <summary>EnvVar.</summary>
    public static readonly IReadOnlySet<string> EnvVar = Set("name", "value", "valueFrom");

    /// <summary>VolumeMount.</summary>
    public static readonly IReadOnlySet<string> VolumeMount = Set(
        "name", "readOnly", "recursiveReadOnly", "mountPath", "subPath", "mountPropagation", "subPathExpr");

    /// <summary>ContainerPort.</summary>
    public static readonly IReadOnlySet<string> ContainerPort = Set("name", "hostPort", "containerPort", "protocol", "hostIP");

    /// <summary>SecurityContext (a container's).</summary>
    public static readonly IReadOnlySet<string> SecurityContext = Set(
        "capabilities", "privileged", "seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot",
        "readOnlyRootFilesystem", "allowPrivilegeEscalation", "procMount", "seccompProfile", "appArmorProfile");

    /// <summary>Capabilities.</summary>
    public static readonly IReadOnlySet<string> Capabilities = Set("add", "drop");

    /// <summary>Volume: its name and every volume source.</summary>
    public static readonly IReadOnlySet<string> Volume = Set(
        "name", "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
        "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
        "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
        "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image");

    /// <summary>EmptyDirVolumeSource.</summary>
    public static readonly IReadOnlySet<string> EmptyDir = Set("medium", "sizeLimit");

    /// <summary>HostPathVolumeSource.</summary>
    public static readonly IReadOnlySet<string> HostPath = Set("path", "type");

    /// <summary>PodDNSConfig.</summary>
    public static readonly IReadOnlySet<string> DnsConfig = Set("nameservers", "searches", "options");

    /// <summary>PodDNSConfigOption.</summary>
    public static readonly IReadOnlySet<string> DnsConfigOption = Set("name", "value");

    /// <summary>A set of field names.</summary>
    public static IReadOnlySet<string> Set(params string[] names) => new HashSet<string>(names, StringComparer.Ordinal);
}
