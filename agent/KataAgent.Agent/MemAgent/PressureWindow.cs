using System.Diagnostics;
using System.Globalization;

namespace KataAgent.Agent.MemAgent;

/// <summary>
/// Memory plus io pressure over a window, as Kata's mem-agent measures it (src/mem-agent/src/psi.rs):
/// the growth of the "some" stall totals (µs) of <c>memory.pressure</c> and <c>io.pressure</c>
/// since the previous reading, as a percentage of the time that passed. The first reading has
/// nothing to compare with and reads 0. For a cgroup the stalls of its child cgroups are
/// subtracted (<paramref name="excludeChildren"/>): its own pages are what the reclaimer acts on.
/// </summary>
/// <param name="directory">The directory with the two files (a cgroup, or /proc/pressure where they are named memory and io).</param>
/// <param name="systemWide">Whether <paramref name="directory"/> is /proc/pressure (files "memory" and "io").</param>
/// <param name="excludeChildren">Whether to subtract child cgroups' stalls.</param>
public sealed class PressureWindow(string directory, bool systemWide, bool excludeChildren)
{
    private ulong _last;
    private long _lastTimestamp;

    /// <summary>The pressure since the last call, in percent (0 on the first call).</summary>
    public ulong Percent()
    {
        ulong total = Total(directory) ;
        if (excludeChildren && !systemWide)
        {
            ulong children = 0;
            foreach (string child in Directory.EnumerateDirectories(directory))
            {
                children += Total(child);
            }
            total = total > children ? total - children : 0;
        }
        long now = Stopwatch.GetTimestamp();
        ulong percent = 0;
        if (_last != 0 && total > _last)
        {
            ulong elapsedUs = (ulong)Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalMicroseconds;
            if (elapsedUs > 0)
            {
                percent = (total - _last) * 100 / elapsedUs;
            }
        }
        _last = total;
        _lastTimestamp = now;
        return percent;
    }

    private ulong Total(string dir) =>
        SomeTotal(Path.Combine(dir, systemWide ? "memory" : "memory.pressure")) + SomeTotal(Path.Combine(dir, systemWide ? "io" : "io.pressure"));

    /// <summary>The <c>total=</c> of the "some" line: "some avg10=0.00 avg60=0.00 avg300=0.00 total=37820".</summary>
    public static ulong SomeTotal(string file)
    {
        string first = File.ReadLines(file).FirstOrDefault() ?? throw new FormatException($"{file} is empty");
        string? total = first.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(w => w.StartsWith("total=", StringComparison.Ordinal));
        return total is not null && ulong.TryParse(total.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)
            ? value
            : throw new FormatException($"{file}: no total= in \"{first}\"");
    }
}
