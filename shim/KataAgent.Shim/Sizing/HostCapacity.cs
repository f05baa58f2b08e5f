namespace KataAgent.Shim.Sizing;

/// <summary>What the host has: the default caps of <see cref="SizingOptions.MaxCpus"/> and <see cref="SizingOptions.MaxMemoryMiB"/>.</summary>
/// <param name="Cpus">CPUs this process may run on.</param>
/// <param name="MemoryMiB">The host's memory (MemTotal) in MiB.</param>
internal sealed record HostCapacity(int Cpus, int MemoryMiB)
{
    /// <summary>This host's CPUs and memory.</summary>
    public static HostCapacity Current() => throw new NotImplementedException();
}
