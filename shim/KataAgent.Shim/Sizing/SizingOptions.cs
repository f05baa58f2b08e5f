using System.Text.Json.Serialization;

namespace KataAgent.Shim.Sizing;

/// <summary>
/// How the shim sizes a sandbox's VM (the <c>"sizing"</c> object of the shim configuration): what the guest itself
/// needs on top of the workload, and the caps. <see cref="VmSizing"/> turns these and what the pod asked for into the
/// VM's boot size and hot-plug headroom; docs/SHIM.md "Sizing" gives the formula.
/// </summary>
internal sealed record SizingOptions
{
    // Settable, not init-only: System.Text.Json's source generator fills init-only properties like constructor
    // parameters, so a key left out of the file would become 0 instead of keeping its default.
    /// <summary>vCPUs for the guest itself (kernel, agent, stdio copies), added to the workload's.</summary>
    [JsonPropertyName("baseCpus")]
    public int BaseCpus { get; set; } = 1;

    /// <summary>Memory in MiB for the guest itself (kernel, agent, page cache of the shared rootfs), added to the workload's.</summary>
    [JsonPropertyName("baseMemoryMiB")]
    public int BaseMemoryMiB { get; set; } = 256;

    /// <summary>Workload memory in MiB assumed when neither the pod nor the lone container declares a memory limit.</summary>
    [JsonPropertyName("defaultMemoryMiB")]
    public int DefaultMemoryMiB { get; set; } = 512;

    /// <summary>The most vCPUs a VM gets, at boot or by hot-plug; 0: the host's CPU count (as Kata's default_maxvcpus).</summary>
    [JsonPropertyName("maxCpus")]
    public int MaxCpus { get; set; }

    /// <summary>The most memory in MiB a VM gets, at boot or by hot-plug; 0: the host's memory (as Kata's default_maxmemory).</summary>
    [JsonPropertyName("maxMemoryMiB")]
    public int MaxMemoryMiB { get; set; }

    /// <summary>DIMM slots for memory hot-plug: each growth of the memory takes one.</summary>
    [JsonPropertyName("memorySlots")]
    public int MemorySlots { get; set; } = 16;

    /// <summary>Checks every value; the error names the field as <c>sizing.&lt;key&gt;</c>.</summary>
    /// <exception cref="SizingException">A value out of range.</exception>
    public void Validate()
    {
        AtLeast(BaseCpus, 1, "baseCpus");
        AtLeast(BaseMemoryMiB, 64, "baseMemoryMiB");
        AtLeast(DefaultMemoryMiB, 0, "defaultMemoryMiB");
        AtLeast(MaxCpus, 0, "maxCpus");
        AtLeast(MaxMemoryMiB, 0, "maxMemoryMiB");
        if (MaxCpus > 0 && MaxCpus < BaseCpus)
        {
            throw new SizingException("sizing.maxCpus", $"{MaxCpus} is below sizing.baseCpus ({BaseCpus}); 0 means the host's CPU count");
        }
        if (MaxMemoryMiB > 0 && MaxMemoryMiB < BaseMemoryMiB)
        {
            throw new SizingException("sizing.maxMemoryMiB", $"{MaxMemoryMiB} is below sizing.baseMemoryMiB ({BaseMemoryMiB}); 0 means the host's memory");
        }
        // qemu's x86 machines take at most 256 DIMM slots (ACPI).
        if (MemorySlots is < 1 or > 256)
        {
            throw new SizingException("sizing.memorySlots", $"{MemorySlots} is not between 1 and 256");
        }
    }

    private static void AtLeast(int value, int minimum, string key)
    {
        if (value < minimum)
        {
            throw new SizingException("sizing." + key, $"{value} is below {minimum}");
        }
    }
}
