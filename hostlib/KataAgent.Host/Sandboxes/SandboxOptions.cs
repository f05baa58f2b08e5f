using KataAgent.Host.Network;
using KataAgent.Host.Vm;

namespace KataAgent.Host.Sandboxes;

/// <summary>
/// What <see cref="Sandbox.StartAsync"/> boots: the VM (<see cref="Vm"/>, every <see cref="QemuOptions"/> setting as
/// it is), and what the sandbox adds on top: its identity, DNS and how the pod network reaches the VM.
/// </summary>
/// <example>
/// <code>
/// new SandboxOptions
/// {
///     Id = "sb1",
///     Vm = new QemuOptions { KernelPath = "out/vmlinuz", InitrdPath = "out/initrd.img", StateDirectory = "/run/kataagent/sb1", AllowKvm = false },
/// }
/// </code>
/// </example>
public sealed record SandboxOptions
{
    /// <summary>
    /// The VM: kernel, initrd, state directory (which also holds the sandbox's container images and network
    /// journal, and is removed when the sandbox is destroyed), size, qemu binary, KVM, hot-plug slots and timeouts,
    /// <see cref="QemuOptions.Detached"/>. Its <see cref="QemuOptions.NetworkNamespacePath"/> is the pod's network
    /// namespace (/var/run/netns/NAME, as CNI leaves it): when set, qemu runs in it, the pod's interfaces are wired
    /// into the VM with <see cref="NetworkModel"/> (as NICs after any <see cref="QemuOptions.NetworkDevices"/>), and
    /// the agent is given their addresses, routes and static neighbours.
    /// </summary>
    public required QemuOptions Vm { get; init; }

    /// <summary>The sandbox id (CreateSandbox's sandbox_id): letters, digits, '_', '.', '-', up to 128 characters.</summary>
    public required string Id { get; init; }

    /// <summary>The sandbox's hostname (shared UTS namespace); empty means the sandbox id.</summary>
    public string Hostname { get; init; } = "";

    /// <summary>How the pod's interfaces reach the VM (default tcfilter, as Kata); used with <see cref="QemuOptions.NetworkNamespacePath"/>.</summary>
    public NetworkModel NetworkModel { get; init; } = NetworkModel.TcFilter;

    /// <summary>Inbound ports for <see cref="NetworkModel.Passt"/> (passt forwards none by default).</summary>
    public IReadOnlyList<PortForward> PortForwards { get; init; } = [];

    /// <summary>
    /// The pod's resolv.conf, as lines ("nameserver 10.96.0.10", "search default.svc.cluster.local", "options
    /// ndots:5"): CreateSandbox's <c>dns</c>. The agent writes them to <see cref="Sandbox.GuestResolvConfPath"/> (and
    /// makes that the guest's /etc/resolv.conf), and every container <see cref="Sandbox.CreateContainerAsync"/> makes
    /// gets it bind-mounted read-only on /etc/resolv.conf, unless its spec mounts something there itself. Empty:
    /// containers keep their rootfs's own file.
    /// </summary>
    public IReadOnlyList<string> Dns { get; init; } = [];

    /// <summary>
    /// How containers get their rootfs directories: <see cref="RootfsMode.VirtioFs"/> (the default) shares them as
    /// they are through one virtio-fs share per sandbox (tag <c>kataShared</c>, laid out as Kata's runtime lays it out,
    /// inside the state directory; bind volumes with host sources go through it too); <see cref="RootfsMode.Blk"/>
    /// packs each into an ext4 image on a hot-plugged virtio-blk disk, which is what a VM snapshot can carry (qemu 7.2
    /// refuses to migrate a VM with a vhost-user device such as virtio-fs).
    /// </summary>
    public RootfsMode RootfsMode { get; init; } = RootfsMode.VirtioFs;

    /// <summary>
    /// Queue pairs of each pod NIC (<see cref="NetworkModel.TcFilter"/> only: its taps are made multi-queue and the
    /// NICs get <c>mq=on</c>; the other models keep one queue). A pod sizes it to its vCPUs.
    /// </summary>
    public int NetworkQueues { get; init; } = 1;

    /// <summary>Request queues of the sandbox's virtio-fs share (see <see cref="QemuSharedDirectory.RequestQueues"/>: qemu 7.2's virtiofsd serves one).</summary>
    public int ShareRequestQueues { get; init; } = 1;

    /// <summary>
    /// Boot and wire the VM but leave CreateSandbox to the caller (<see cref="Sandbox.PendingCreateSandbox"/>): a pod
    /// sends it inside kataagent.v1 Pods/CreatePod, as one transaction with its containers.
    /// </summary>
    internal bool DeferCreateSandbox { get; init; }
}
