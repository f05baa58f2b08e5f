namespace KataAgent.Host.Vm;

/// <summary>What <see cref="QemuVm"/> boots: kernel, initrd, size, and the agent's channel.</summary>
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

    /// <summary>Extra kernel command-line words (agent.* options, for example).</summary>
    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>qemu binary; found on PATH by default.</summary>
    public string QemuPath { get; init; } = "qemu-system-x86_64";

    /// <summary>Use KVM when /dev/kvm exists (TCG otherwise). False forces TCG.</summary>
    public bool AllowKvm { get; init; } = true;

    /// <summary>How long <see cref="QemuVm.StartAsync"/> waits for the agent to answer.</summary>
    public TimeSpan AgentTimeout { get; init; } = TimeSpan.FromSeconds(120);
}
