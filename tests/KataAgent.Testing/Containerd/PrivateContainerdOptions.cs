using System.Text.Json.Nodes;

namespace KataAgent.Testing.Containerd;

/// <summary>How <see cref="PrivateContainerd"/> is set up; the defaults are what most tests want.</summary>
public sealed record PrivateContainerdOptions
{
    /// <summary>The snapshotter of ctr and the CRI plugin: containerd's default <c>overlayfs</c>, or <c>native</c>.</summary>
    public string Snapshotter { get; init; } = "overlayfs";

    /// <summary>
    /// Whether to register our runtime: the CRI handler <see cref="PrivateContainerd.KataAgentHandler"/>
    /// (runtime_type io.containerd.kataagent.v2, runtime_path out/containerd-shim-kataagent-v2, options ConfigPath)
    /// and the binary on containerd's PATH for <c>ctr run --runtime io.containerd.kataagent.v2</c>. It needs the
    /// published shim; a harness check with runc alone does without.
    /// </summary>
    public bool KataAgentRuntime { get; init; } = true;

    /// <summary>Extra keys for the shim's configuration file (e.g. <c>sizing</c>), over <see cref="ShimTestConfiguration"/>'s.</summary>
    public IReadOnlyDictionary<string, JsonNode?>? ShimSettings { get; init; }

    /// <summary>The CRI network: a CNI bridge (<see cref="CniBridgeNetwork"/>) when true; pods then need not use the host network.</summary>
    public bool CniNetwork { get; init; } = true;
}
