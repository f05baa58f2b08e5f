using System.Text.Json.Serialization;
using KataAgent.Shim.Sizing;

namespace KataAgent.Shim.Config;

/// <summary>
/// The shim's configuration file (JSON, camelCase keys): what the VM of each pod boots and where its state lives. Read
/// by <see cref="ShimConfigurationLoader"/> from the runtime options' <c>config_path</c>, else
/// <c>KATAAGENT_SHIM_CONFIG</c>, else <see cref="ShimConfigurationLoader.DefaultPath"/>.
/// </summary>
internal sealed record ShimConfiguration
{
    /// <summary>The guest kernel (required).</summary>
    [JsonPropertyName("kernel")]
    public string? Kernel { get; set; }

    /// <summary>The guest initrd with the agent (required).</summary>
    [JsonPropertyName("initrd")]
    public string? Initrd { get; set; }

    /// <summary>The qemu binary: a path, or a name looked up on PATH.</summary>
    [JsonPropertyName("qemu")]
    public string Qemu { get; set; } = "qemu-system-x86_64";

    /// <summary>virtiofsd, which serves the pod's rootfs share.</summary>
    [JsonPropertyName("virtiofsd")]
    public string Virtiofsd { get; set; } = "/usr/lib/qemu/virtiofsd";

    /// <summary>Where each VM's state directory is made (a short hash per pod below it, so socket paths stay short).</summary>
    [JsonPropertyName("stateRoot")]
    public string StateRoot { get; set; } = "/run/kataagent/shim";

    /// <summary>Use KVM when /dev/kvm is there (else TCG).</summary>
    [JsonPropertyName("allowKvm")]
    public bool AllowKvm { get; set; } = true;

    /// <summary>How the pod's interfaces reach the VM: <c>tcfilter</c>, <c>macvtap</c>, <c>passt</c> or <c>none</c>.</summary>
    [JsonPropertyName("networkModel")]
    public string NetworkModel { get; set; } = "tcfilter";

    /// <summary>
    /// How containers get their rootfs: <c>virtiofs</c> (the default: one virtio-fs share per pod) or <c>blk</c> (each
    /// rootfs packed into an ext4 disk, hot-plugged). A pod is checkpointable only with <c>blk</c>: qemu 7.2 cannot
    /// migrate a virtio-fs device.
    /// </summary>
    [JsonPropertyName("rootfsMode")]
    public string RootfsMode { get; set; } = "virtiofs";

    /// <summary>
    /// The agent's channel: <c>vsock</c> (the default) or <c>serial</c> (one virtio-serial port). A pod is
    /// checkpointable only with <c>serial</c> where vsock is served by our vhost-user-vsock device (no /dev/vhost-vsock).
    /// </summary>
    [JsonPropertyName("agentChannel")]
    public string AgentChannel { get; set; } = "vsock";

    /// <summary>How long a booting VM's agent gets to answer.</summary>
    [JsonPropertyName("agentTimeoutSeconds")]
    public int AgentTimeoutSeconds { get; set; } = 120;

    /// <summary>Give each VM a debug console (a shell in the guest over vsock).</summary>
    [JsonPropertyName("debugConsole")]
    public bool DebugConsole { get; set; }

    /// <summary>How each VM is sized from what its pod asked for (<see cref="SizingOptions"/>).</summary>
    /// <remarks>The keys a file leaves out keep their defaults (<see cref="ShimConfigurationLoader"/> fills them in).</remarks>
    [JsonPropertyName("sizing")]
    public SizingOptions Sizing { get; set; } = new();
}
