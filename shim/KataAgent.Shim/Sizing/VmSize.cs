using KataAgent.Host.Vm;

namespace KataAgent.Shim.Sizing;

/// <summary>A sandbox VM's boot size and hot-plug headroom, as <see cref="VmSizing"/> computes it.</summary>
/// <param name="BootCpus">vCPUs at boot.</param>
/// <param name="BootMemoryMiB">Memory at boot, MiB.</param>
/// <param name="MaxCpus">vCPUs the VM may grow to by hot-plug (at least <paramref name="BootCpus"/>).</param>
/// <param name="MaxMemoryMiB">Memory the VM may grow to by hot-plug, MiB (at least <paramref name="BootMemoryMiB"/>; the room above it is whole 128 MiB blocks).</param>
/// <param name="MemorySlots">DIMM slots for memory hot-plug.</param>
/// <param name="Source">Where the numbers came from.</param>
internal sealed record VmSize(int BootCpus, int BootMemoryMiB, int MaxCpus, int MaxMemoryMiB, int MemorySlots, SizingSource Source)
{
    /// <summary><paramref name="options"/> with this size: Cpus, MemoryMiB, MaxCpus, MaxMemoryMiB, MemorySlots.</summary>
    public QemuOptions ApplyTo(QemuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with
        {
            Cpus = BootCpus,
            MemoryMiB = BootMemoryMiB,
            MaxCpus = MaxCpus,
            MaxMemoryMiB = MaxMemoryMiB,
            MemorySlots = MemorySlots,
        };
    }
}
