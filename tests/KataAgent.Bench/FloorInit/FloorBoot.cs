namespace KataAgent.Bench.FloorInit;

/// <summary>One boot of the floor image: qemu start to the "ready" line, and the guest's memory as the floor init saw it (kB, /proc/meminfo).</summary>
public sealed record FloorBoot(TimeSpan ToReady, long MemTotalKiB, long MemAvailableKiB);
