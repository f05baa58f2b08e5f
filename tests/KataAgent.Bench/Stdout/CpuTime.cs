using System.Globalization;

namespace KataAgent.Bench.Stdout;

/// <summary>
/// CPU time a process has used, all its threads, user and system: what a throughput figure costs, which unlike the
/// figure itself hardly moves when other work shares the machine.
/// </summary>
internal static class CpuTime
{
    private static readonly double TickMilliseconds = 1000.0 / 100; // USER_HZ is 100 on Linux

    /// <summary>Milliseconds of CPU process <paramref name="pid"/> has used (utime + stime of /proc/PID/stat, 10 ms resolution).</summary>
    public static double Of(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name in parentheses may hold spaces: the fields are counted after its closing parenthesis.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        long stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (utime + stime) * TickMilliseconds;
    }

    /// <summary>Milliseconds of CPU this process has used.</summary>
    public static double OfThisProcess() => System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
}
