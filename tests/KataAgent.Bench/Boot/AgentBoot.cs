namespace KataAgent.Bench.Boot;

/// <summary>
/// One boot of the agent's image: qemu start to the first Check answer (QemuVm.BootToReady), then,
/// 1 s later, the agent's memory (kB, its own /proc/self/status as GetMetrics exports it) and CPU
/// time (user + system, /proc/self/stat), and the guest's memory (kB, /proc/meminfo through GetMetrics).
/// </summary>
internal sealed record AgentBoot(TimeSpan ToReady, TimeSpan CpuTime, long VmRssKiB, long RssAnonKiB, long RssFileKiB, long RssShmemKiB, long MemTotalKiB, long MemAvailableKiB);
