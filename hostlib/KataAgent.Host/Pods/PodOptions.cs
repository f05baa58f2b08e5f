using KataAgent.Host.Images;
using KataAgent.Host.Network;
using KataAgent.Host.Sandboxes;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Pods;

/// <summary>Where and how <see cref="Pod.CreateAsync"/> runs a <see cref="PodSpec"/>.</summary>
public sealed record PodOptions
{
    /// <summary>The VM's kernel, initrd, state directory, qemu and timeouts; its size fields are replaced by what <see cref="PodSizing"/> gives.</summary>
    public required QemuOptions Vm { get; init; }

    /// <summary>The sandbox id; null for the pod's name.</summary>
    public string? Id { get; init; }

    /// <summary>Where images are pulled and unpacked on the host; null when every container names a <see cref="PodContainerSpec.Rootfs"/>.</summary>
    public HostImages? Images { get; init; }

    /// <summary>How containers' root filesystems reach the VM.</summary>
    public RootfsMode RootfsMode { get; init; } = RootfsMode.VirtioFs;

    /// <summary>How the pod's interfaces reach the VM, with <see cref="QemuOptions.NetworkNamespacePath"/>.</summary>
    public NetworkModel NetworkModel { get; init; } = NetworkModel.TcFilter;

    /// <summary>The VM's overhead and caps on top of the pod's requests (docs/PODS.md "Sizing").</summary>
    public PodSizingOptions Sizing { get; init; } = new();

    /// <summary>When images are pulled into <see cref="Images"/>: only when missing, as Kubernetes' IfNotPresent, by default.</summary>
    public PullPolicy PullPolicy { get; init; } = PullPolicy.Missing;

    /// <summary>
    /// The most request queues the sandbox's virtio-fs share gets (it gets one per vCPU up to this). 1 by default:
    /// qemu 7.2's C virtiofsd serves one request queue and exits when the guest enables a second ("multiple request
    /// queues not yet implemented"); raise it with a virtiofsd that serves more (<see cref="QemuOptions.VirtiofsdPath"/>).
    /// </summary>
    public int MaxShareRequestQueues { get; init; } = 1;
}
