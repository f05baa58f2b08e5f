using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace KataAgent.Kactl;

/// <summary>
/// Where a kactl run spends its time, for profiling: with <c>KACTL_TIMELINE=1</c> in the environment each
/// <see cref="Mark"/> records the milliseconds since <c>Main</c> began and <see cref="Print"/> writes them as one
/// line on stderr at the end (<c>kactl: timeline (ms since main): parsed 3.1, connected 9.0, …</c>). Otherwise
/// marking costs one static field read. The time before <c>Main</c> (loader, runtime start) is the process's
/// wall time less the last mark, as <c>perf stat</c> measures it from outside.
/// </summary>
internal static class StartupTimeline
{
    /// <summary>The environment variable that turns the timeline on.</summary>
    public const string Variable = "KACTL_TIMELINE";

    private static readonly long Origin = Stopwatch.GetTimestamp();
    private static readonly List<(string Step, double Milliseconds)>? Marks =
        Environment.GetEnvironmentVariable(Variable) is "1" ? [] : null;

    /// <summary>Records that <paramref name="step"/> has just finished.</summary>
    public static void Mark(string step)
    {
        if (Marks is null)
        {
            return;
        }
        double elapsed = Stopwatch.GetElapsedTime(Origin).TotalMilliseconds;
        lock (Marks)
        {
            Marks.Add((step, elapsed));
        }
    }

    /// <summary>Writes the marks on stderr, when the timeline is on.</summary>
    public static void Print()
    {
        if (Marks is null)
        {
            return;
        }
        var line = new StringBuilder("kactl: timeline (ms since main):");
        lock (Marks)
        {
            foreach (var (step, milliseconds) in Marks)
            {
                line.Append(CultureInfo.InvariantCulture, $" {step} {milliseconds:0.0},");
            }
        }
        line.Length--;
        line.Append('\n');
        StandardStreams.WriteAll(StandardStreams.Stderr, Encoding.UTF8.GetBytes(line.ToString()));
    }
}
