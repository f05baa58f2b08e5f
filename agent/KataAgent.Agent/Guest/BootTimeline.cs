using System.Diagnostics;
using System.Globalization;

namespace KataAgent.Agent.Guest;

/// <summary>
/// The agent's start-up steps as guest uptimes, logged once it serves: where boot-to-ready goes after the kernel
/// runs /init (docs/BENCHMARKS.md). Stopwatch reads CLOCK_MONOTONIC, which in a VM that has never been suspended
/// is the kernel's uptime, so the marks line up with the console's printk times without reading /proc.
/// </summary>
public static class BootTimeline
{
    private static readonly object Gate = new();
    private static readonly List<(string Step, long Timestamp)> Marks = [];

    /// <summary>The guest's uptime in seconds (CLOCK_MONOTONIC, as the marks).</summary>
    public static double Uptime => (double)Stopwatch.GetTimestamp() / Stopwatch.Frequency;

    /// <summary>Records that <paramref name="step"/> has just ended.</summary>
    public static void Mark(string step)
    {
        long now = Stopwatch.GetTimestamp();
        lock (Gate)
        {
            Marks.Add((step, now));
        }
    }

    /// <summary>"step at 2.364 s (+0.012 s), …": each mark's uptime and the time since the previous one.</summary>
    public static string Describe()
    {
        lock (Gate)
        {
            var parts = new List<string>(Marks.Count);
            long previous = 0;
            foreach (var (step, timestamp) in Marks)
            {
                double at = (double)timestamp / Stopwatch.Frequency;
                string delta = previous == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $" (+{(double)(timestamp - previous) / Stopwatch.Frequency:0.000} s)");
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{step} at {at:0.000} s{delta}"));
                previous = timestamp;
            }
            return string.Join(", ", parts);
        }
    }
}
