namespace KataAgent.Bench;

internal static class Percentiles
{
    /// <summary>Nearest-rank percentile of samples in microseconds.</summary>
    public static double Of(List<double> samples, double percentile)
    {
        var sorted = samples.Order().ToList();
        int rank = (int)Math.Ceiling(percentile / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}
