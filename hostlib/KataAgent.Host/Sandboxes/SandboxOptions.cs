using KataAgent.Host.Network;

namespace KataAgent.Host.Sandboxes;

/// <summary>What <see cref="Sandbox.StartAsync"/> boots: the VM's image and size, and the sandbox's identity.</summary>
public sealed record SandboxOptions
{
    /// <summary>The guest kernel (bzImage), e.g. out/vmlinuz.</summary>
    public required string KernelPath { get; init; }

    /// <summary>The initrd with the agent as /init, e.g. out/initrd.img.</summary>
    public required string InitrdPath { get; init; }

    /// <summary>The VM's state directory (sockets, logs, container disk images); removed when the sandbox is destroyed.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The sandbox id (CreateSandbox's sandbox_id): letters, digits, '_', '.', '-', up to 128 characters.</summary>
    public required string Id { get; init; }

    /// <summary>vCPUs.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>Guest memory in MiB.</summary>
    public int MemoryMiB { get; init; } = 512;

    /// <summary>The sandbox's hostname (shared UTS namespace); empty means the sandbox id.</summary>
    public string Hostname { get; init; } = "";

    /// <summary>Serve the guest's debug console on the VM's console.sock (see <see cref="Vm.QemuOptions.DebugConsole"/>).</summary>
    public bool DebugConsole { get; init; }

    /// <summary>The VM outlives the caller (see <see cref="Vm.QemuOptions.Detached"/>); disposing the sandbox then only disconnects.</summary>
    public bool Detached { get; init; }

    /// <summary>Extra kernel command-line words (agent.* options, for example).</summary>
    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>Free hot-plug slots: how many containers created through <see cref="Sandbox.CreateContainerAsync"/> can exist at once (a removed one frees its slot).</summary>
    public int HotplugSlots { get; init; } = 4;

    /// <summary>How long the agent waits for a container's disk to appear (see <see cref="Vm.QemuOptions.HotplugTimeout"/>).</summary>
    public TimeSpan HotplugTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long removing a container waits for the guest to release its disk (see <see cref="Vm.QemuOptions.UnplugTimeout"/>).</summary>
    public TimeSpan UnplugTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the start waits for the agent to answer.</summary>
    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// The pod's network namespace (/var/run/netns/NAME, as CNI leaves it). When set, qemu runs in it, the
    /// pod's interfaces are wired into the VM with <see cref="NetworkModel"/>, and the agent is given their
    /// addresses, routes and static neighbours. Null: no NIC, and qemu stays in the caller's netns.
    /// </summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>How the pod's interfaces reach the VM (default tcfilter, as Kata).</summary>
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
}
