namespace KataAgent.Testing.FloorInit;

/// <summary>
/// One boot of the floor image: qemu start to the "ready" line (host clock); the guest's uptime
/// right after it (the kernel's own clock: the difference is qemu's start and the firmware); and
/// the guest's memory as the floor init saw it (kB, /proc/meminfo).
/// </summary>
public sealed record FloorBoot(TimeSpan ToReady, TimeSpan GuestUptime, long MemTotalKiB, long MemAvailableKiB);
