using System.Diagnostics;
using KataAgent.Agent.Errors;
using KataAgent.Linux.Interop;
using Microsoft.Extensions.Logging;

namespace KataAgent.Agent.Guest.Hotplug;

/// <summary>Taking CPUs offline before the host unplugs them (UpdatePod shrinking a pod).</summary>
public sealed partial class GuestHotplug
{
    /// <summary>
    /// Offlines online CPUs, highest-numbered first (the ones a VMM hot-plugged last, and unplugs first), until
    /// <paramref name="cpus"/> are online; returns once cpu/online says so. A guest with more CPUs online than it
    /// can offline (the boot CPU has no online file) is FAILED_PRECONDITION naming <paramref name="field"/>; a CPU the
    /// kernel refuses to offline is named with the kernel's error, and what was offlined before it stays offline
    /// (fewer CPUs is always within what the host gave).
    /// </summary>
    public async Task OfflineAsync(uint cpus, string field, CancellationToken cancellationToken)
    {
        if (cpus == 0)
        {
            throw AgentException.InvalidArgument(field, "0 CPUs cannot be left online");
        }
        if (!Directory.Exists(_cpuDirectory))
        {
            throw AgentException.FailedPrecondition(null, $"{_cpuDirectory} does not exist; is sysfs mounted?");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var online = CpuList.Parse(File.ReadAllText(Path.Combine(_cpuDirectory, "online")));
            int excess = online.Count - (int)cpus;
            if (excess <= 0)
            {
                return;
            }
            var offlinable = online.Reverse()
                .Select(cpu => (Cpu: cpu, File: Path.Combine(_cpuDirectory, $"cpu{cpu}", "online")))
                .Where(c => File.Exists(c.File))
                .ToList();
            if (offlinable.Count < excess)
            {
                throw AgentException.FailedPrecondition(field, $"{online.Count} CPUs are online and only {offlinable.Count} of them can go offline (the boot CPU cannot): {cpus} cannot be reached");
            }
            var candidates = offlinable.Take(excess).ToList();
            foreach (var (cpu, file) in candidates)
            {
                try
                {
                    WriteSysfs(file, "0");
                }
                catch (LinuxException e)
                {
                    throw AgentException.FailedPrecondition(field, $"the kernel refused to offline cpu{cpu}: {e.Message}");
                }
                _logger.LogInformation("offlined cpu{Cpu}", cpu);
            }
        }
        finally
        {
            _gate.Release();
        }
        // The kernel updates cpu/online as each write returns; a moment's grace covers a sysfs that lags.
        var clock = Stopwatch.StartNew();
        while (OnlineCpuCount() > cpus)
        {
            if (clock.Elapsed >= Deadline)
            {
                throw AgentException.DeadlineExceeded(field, $"{OnlineCpuCount()} CPUs still online after {Deadline.TotalSeconds:0.#} s, {cpus} asked for");
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
