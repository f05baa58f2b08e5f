using KataAgent.Host.Sandboxes;
using KataAgent.Linux.Addressing;

namespace KataAgent.Shim.Tasks;

/// <summary>
/// Why a pod's VM cannot be checkpointed: qemu 7.2 refuses to migrate a VM with a vhost-user device, and the shim's
/// defaults make two (the containers' virtio-fs rootfs share, and the vhost-user-vsock device that carries the agent
/// where the host has no /dev/vhost-vsock). Each is named with the configuration key that avoids it, so containerd's
/// ErrNotImplemented tells the operator what to change.
/// </summary>
internal static class CheckpointRefusal
{
    /// <summary>The reason, naming every blocking device and its option; null when the VM can be checkpointed.</summary>
    /// <param name="sandboxId">The pod's sandbox id (for the message).</param>
    /// <param name="rootfsMode">How the pod's containers get their rootfs.</param>
    /// <param name="sharedDirectoryTags">The virtio-fs shares of the VM (the rootfs share among them with <see cref="RootfsMode.VirtioFs"/>).</param>
    /// <param name="agentAddress">The kind of the host's address of the agent (hybrid vsock means our vhost-user-vsock device).</param>
    /// <param name="configurationPath">The shim configuration the options are set in.</param>
    public static string? Reason(string sandboxId, RootfsMode rootfsMode, IReadOnlyList<string> sharedDirectoryTags, AgentAddressKind agentAddress, string configurationPath)
    {
        var devices = new List<string>();
        var options = new List<string>();
        var tags = sharedDirectoryTags.ToList();
        if (rootfsMode == RootfsMode.VirtioFs && !tags.Contains(Sandbox.ShareTag))
        {
            tags.Insert(0, Sandbox.ShareTag);
        }
        if (tags.Count > 0)
        {
            devices.Add($"{(tags.Count == 1 ? "a virtio-fs share" : "virtio-fs shares")} ({string.Join(", ", tags.Select(t => $"vhost-user-fs-pci \"{t}\""))}{(tags.Contains(Sandbox.ShareTag) ? ", the containers' rootfs share" : "")})");
            options.Add("\"rootfsMode\": \"blk\"");
        }
        if (agentAddress == AgentAddressKind.HybridVsock)
        {
            devices.Add("the agent's vsock device (vhost-user-vsock-pci, which the shim serves itself because this host has no /dev/vhost-vsock)");
            options.Add("\"agentChannel\": \"serial\"");
        }
        if (devices.Count == 0)
        {
            return null;
        }
        return $"pod {sandboxId} cannot be checkpointed: its VM has {string.Join(" and ", devices)}, and qemu 7.2 cannot migrate a vhost-user device; " +
            $"set {string.Join(" and ", options)} in the shim configuration {configurationPath}, and pods created after that can be checkpointed";
    }
}
