namespace KataAgent.Host.Sizing;

/// <summary>
/// The arithmetic both sizers share (the shim's VmSizing from CRI annotations, <see cref="Pods.PodSizing"/> from a
/// pod's requests): whole vCPUs and MiB rounded up, an overhead added, the caps applied, and hot-plug room above the
/// boot size kept to whole memory blocks.
/// </summary>
internal static class VmSizeArithmetic
{
    /// <summary>The guest's memory block (x86_64, the Debian kernel): hot-plugged memory comes in whole blocks.</summary>
    public const int MemoryBlockMiB = 128;

    private const long MiB = 1024 * 1024;

    /// <summary>milliCPU → whole vCPUs, rounded up.</summary>
    public static int WholeCpus(long milliCpus) => (int)Math.Min(int.MaxValue / 2, milliCpus / 1000 + (milliCpus % 1000 > 0 ? 1 : 0));

    /// <summary>Bytes → whole MiB, rounded up.</summary>
    public static long WholeMiB(long bytes) => bytes / MiB + (bytes % MiB > 0 ? 1 : 0);

    /// <summary>a + b, stuck at long.MaxValue instead of wrapping (the inputs are anyone's annotations and manifests).</summary>
    public static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    /// <summary>
    /// Boot vCPUs = overhead + ⌈<paramref name="bootMilliCpus"/>⌉; the most = overhead + ⌈<paramref name="maxMilliCpus"/>⌉,
    /// or <paramref name="cap"/> when null; both within the cap, the most never below the boot count.
    /// </summary>
    public static (int Boot, int Max) Cpus(int overheadCpus, long bootMilliCpus, long? maxMilliCpus, int cap)
    {
        int boot = (int)Math.Min(cap, overheadCpus + (long)WholeCpus(bootMilliCpus));
        int max = maxMilliCpus is { } limit ? (int)Math.Min(cap, overheadCpus + (long)WholeCpus(limit)) : cap;
        return (boot, Math.Clamp(max, boot, cap));
    }

    /// <summary>
    /// Boot memory = overhead + <paramref name="bootMiB"/>; the most = overhead + <paramref name="maxMiB"/>, or
    /// <paramref name="cap"/> when null; both within the cap. The room above boot is whole
    /// <see cref="MemoryBlockMiB"/> blocks: rounded up so a limit is reachable, down when up would pass the cap.
    /// </summary>
    public static (int Boot, int Max) Memory(int overheadMiB, long bootMiB, long? maxMiB, int cap)
    {
        int boot = (int)Math.Min(cap, SaturatingAdd(overheadMiB, bootMiB));
        int max = maxMiB is { } limit ? (int)Math.Min(cap, SaturatingAdd(overheadMiB, limit)) : cap;
        long room = Math.Max(0, max - boot);
        long blocks = (room + MemoryBlockMiB - 1) / MemoryBlockMiB;
        if (boot + blocks * MemoryBlockMiB > cap)
        {
            blocks = room / MemoryBlockMiB;
        }
        return (boot, (int)(boot + blocks * MemoryBlockMiB));
    }
}
