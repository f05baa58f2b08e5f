using System.Text.Json.Serialization;
using KataAgent.Host;

namespace KataAgent.Kactl.Sandboxes;

/// <summary>
/// What <c>kactl run</c> remembers about a sandbox it booted: <c>RUNDIR/ID/sandbox.json</c>, next to the
/// host library's own state files in the same directory (vm.json, agent-sandbox.json, network.json).
/// </summary>
public sealed record RunRecord
{
    /// <summary>The sandbox id (also the directory's name).</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    /// <summary>The container kactl created in it.</summary>
    [JsonPropertyName("containerId")]
    public required string ContainerId { get; init; }

    /// <summary>When kactl started booting it.</summary>
    [JsonPropertyName("createdAt")]
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>qemu's pid on this host.</summary>
    [JsonPropertyName("qemuPid")]
    public required int QemuPid { get; init; }

    /// <summary>The protocol its agent speaks (what <c>--protocol</c> chose or detected); null in records from before
    /// kactl spoke ttrpc, which were all gRPC.</summary>
    [JsonPropertyName("protocol")]
    [JsonConverter(typeof(JsonStringEnumConverter<AgentProtocol>))]
    public AgentProtocol? Protocol { get; init; }

    /// <summary>How the container got its rootfs (<c>--rootfs-mode</c>); null in records from before virtio-fs, which were all blk.</summary>
    [JsonPropertyName("rootfsMode")]
    [JsonConverter(typeof(JsonStringEnumConverter<KataAgent.Host.Sandboxes.RootfsMode>))]
    public KataAgent.Host.Sandboxes.RootfsMode? RootfsMode { get; init; }

    /// <summary>The container's command line.</summary>
    [JsonPropertyName("args")]
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>The image the container was made from (<c>kactl run IMAGE</c>), or null for a rootfs run.</summary>
    [JsonPropertyName("image")]
    public string? Image { get; init; }

    /// <summary>The pod's name when <c>kactl pod run</c> made the sandbox (a <see cref="KataAgent.Host.Pods.Pod"/>, its state in pod.json); null for <c>kactl run</c>.</summary>
    [JsonPropertyName("pod")]
    public string? Pod { get; init; }
}
