namespace KataAgent.Host.Vm;

/// <summary>What <see cref="QemuVm"/> boots: kernel, initrd, size, disks, consoles, and whether it outlives its caller.</summary>
public sealed record QemuOptions
{
    /// <summary>The guest kernel (bzImage), e.g. out/vmlinuz.</summary>
    public required string KernelPath { get; init; }

    /// <summary>The initrd with the agent as /init, e.g. out/initrd.img.</summary>
    public required string InitrdPath { get; init; }

    /// <summary>Directory for the VM's sockets, console log and pid file; created, and removed on dispose.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>vCPUs.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>Guest memory in MiB.</summary>
    public int MemoryMiB { get; init; } = 512;

    /// <summary>
    /// vCPUs the VM can grow to with <see cref="QemuVm.AddCpuAsync"/> (<c>-smp cpus=N,maxcpus=M</c>); 0, or no
    /// more than <see cref="Cpus"/>, leaves no room for CPU hot-plug.
    /// </summary>
    public int MaxCpus { get; init; }

    /// <summary>
    /// Memory the VM can grow to with <see cref="QemuVm.AddMemoryAsync"/>, in MiB (<c>-m size=N,slots=S,maxmem=M</c>);
    /// 0 leaves no room for memory hot-plug.
    /// </summary>
    public int MaxMemoryMiB { get; init; }

    /// <summary>DIMM slots for memory hot-plug when <see cref="MaxMemoryMiB"/> is set: one per <see cref="QemuVm.AddMemoryAsync"/>.</summary>
    public int MemorySlots { get; init; } = 4;

    /// <summary>Extra kernel command-line words (agent.* options, for example).</summary>
    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>qemu binary; found on PATH by default.</summary>
    public string QemuPath { get; init; } = "qemu-system-x86_64";

    /// <summary>Use KVM when /dev/kvm exists (TCG otherwise). False forces TCG.</summary>
    public bool AllowKvm { get; init; } = true;

    /// <summary>How long <see cref="QemuVm.StartAsync"/> waits for the agent to answer.</summary>
    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The protocol to speak to the agent (<see cref="AgentClientOptions.Protocol"/>; default gRPC). Kept in the VM's
    /// state, so <see cref="QemuVm.AttachAsync"/> speaks it too; <see cref="AgentProtocol.Detect"/> is saved as what it
    /// found once the agent answered.
    /// </summary>
    public AgentProtocol AgentProtocol { get; init; } = AgentProtocol.Grpc;

    /// <summary>Disks attached at boot, each a virtio-blk device on its own pcie-root-port (PCI paths in <see cref="QemuVm.DiskPciPaths"/>).</summary>
    public IReadOnlyList<QemuDisk> Disks { get; init; } = [];

    /// <summary>Empty pcie-root-ports kept for <see cref="QemuVm.AddDiskAsync"/>: q35 cannot hot-plug onto its root bus, only into a root port.</summary>
    public int HotplugSlots { get; init; } = 4;

    /// <summary>
    /// Serve the guest's debug console (<c>agent.debug_console</c> on the command line), a shell per connection at
    /// <see cref="QemuVm.DebugConsoleAddress"/>: vsock port 1026 (<c>agent.debug_console_vport</c>) with the vsock
    /// channel, the agent.debug_console.0 port on <see cref="QemuVm.DebugConsoleSocketPath"/> with the serial one.
    /// </summary>
    public bool DebugConsole { get; init; }

    /// <summary>
    /// The agent's channel: <see cref="QemuAgentChannel.Vsock"/> (the default: many connections at once) or
    /// <see cref="QemuAgentChannel.Serial"/> (one connection at a time, but what a VM snapshot can carry, since qemu
    /// 7.2 refuses to migrate a VM with vhost-user devices).
    /// </summary>
    public QemuAgentChannel AgentChannel { get; init; } = QemuAgentChannel.Vsock;

    /// <summary>
    /// The command that runs the vhost-user-vsock backend as a process of its own, needed by a
    /// <see cref="Detached"/> VM on the vsock channel without /dev/vhost-vsock (the backend has to outlive the
    /// caller too): the program and its leading arguments, to which <see cref="QemuVm"/> appends
    /// <see cref="QemuVsockBackendProcess"/>'s options. kactl passes <c>[its own path, "vhost-user-vsock"]</c>. A VM
    /// that is not detached runs the backend inside the calling process and ignores this.
    /// </summary>
    public IReadOnlyList<string>? VsockBackendCommand { get; init; }

    /// <summary>
    /// qemu outlives the caller: started with <c>-daemonize</c> (its own session, no parent-death signal), found
    /// again with <see cref="QemuVm.AttachAsync"/>, stopped only by <see cref="QemuVm.StopAsync"/> or a guest power-off.
    /// </summary>
    public bool Detached { get; init; }

    /// <summary>
    /// Let the VM reboot: a guest reboot or a QMP <c>system_reset</c> starts the guest again in the same qemu (the
    /// agent comes back on the same addresses with none of its state), instead of ending qemu (<c>-no-reboot</c>, the
    /// default, as Kata: a sandbox whose guest rebooted has lost its containers).
    /// </summary>
    public bool AllowReboot { get; init; }

    /// <summary>How long the agent waits for a hot-plugged device (<c>agent.hotplug_timeout=</c>, whole seconds); generous because TCG is slow.</summary>
    public TimeSpan HotplugTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long <see cref="QemuVm.RemoveDiskAsync"/> waits for the guest to let go of a disk (qemu's
    /// <c>DEVICE_DELETED</c>): the guest has to answer the unplug request. With ACPI hot-plug (qemu 7.2's q35
    /// root ports) that is quick, but native PCIe hot-plug makes Linux wait 5 s after the attention button,
    /// and a busy TCG guest is slow on top of that.
    /// </summary>
    public TimeSpan UnplugTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The network namespace qemu runs in (a path such as /var/run/netns/NAME, as CNI leaves it), so its
    /// taps and sockets are the pod's; null keeps the caller's namespace.
    /// </summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>NICs attached at boot, each on its own pcie-root-port after the disk and hot-plug ports.</summary>
    public IReadOnlyList<QemuNetworkDevice> NetworkDevices { get; init; } = [];

    /// <summary>
    /// Host directories shared at boot over virtio-fs, each a <c>vhost-user-fs-pci</c> device on its own pcie-root-port
    /// after the NICs' ports, served by a virtiofsd of its own that is started before qemu and stopped with the VM
    /// (<see cref="QemuVm.AddSharedDirectoryAsync"/> adds more later, into the hot-plug ports). Tags are unique.
    /// </summary>
    public IReadOnlyList<QemuSharedDirectory> SharedDirectories { get; init; } = [];

    /// <summary>The virtiofsd binary: qemu 7.2's C daemon, in Debian's qemu-system-common.</summary>
    public string VirtiofsdPath { get; init; } = "/usr/lib/qemu/virtiofsd";
}
