namespace KataAgent.Bench.Boot;

/// <summary>
/// One boot of the agent's image: qemu start to the first Check answer (QemuVm.BootToReady), then,
/// 1 s later, the agent's memory (kB, its own /proc/self/status as GetMetrics exports it) and the
/// guest's (kB, /proc/meminfo through GetMetrics).
/// </summary>
internal sealed record AgentBoot(TimeSpan ToReady, long VmRssKiB, long RssAnonKiB, long RssFileKiB, long MemTotalKiB, long MemAvailableKiB);
