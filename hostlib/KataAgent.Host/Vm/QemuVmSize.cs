namespace KataAgent.Host.Vm;

/// <summary>A running VM's vCPUs and memory as qemu reports them, and the hot-plug room left (<see cref="QemuVm.QuerySizeAsync"/>).</summary>
/// <param name="Cpus">vCPUs plugged in, the boot ones included.</param>
/// <param name="MaxCpus">CPU slots in all (<c>-smp maxcpus</c>, or the boot vCPUs without hot-plug room).</param>
/// <param name="MemoryMiB">Boot RAM plus every DIMM, MiB.</param>
/// <param name="MaxMemoryMiB">What the memory can grow to (<c>-m maxmem</c>, or the boot RAM without hot-plug room), MiB.</param>
/// <param name="Dimms">Memory devices plugged.</param>
/// <param name="MemorySlots">DIMM slots in all (0 without hot-plug room).</param>
internal sealed record QemuVmSize(int Cpus, int MaxCpus, int MemoryMiB, int MaxMemoryMiB, int Dimms, int MemorySlots)
{
    /// <summary>The vCPUs the VM booted with (<see cref="QemuOptions.Cpus"/>): never unplugged.</summary>
    public int BootCpus { get; init; } = 1;

    /// <summary>The memory the VM booted with (<see cref="QemuOptions.MemoryMiB"/>), MiB: never unplugged.</summary>
    public int BootMemoryMiB { get; init; }
}
