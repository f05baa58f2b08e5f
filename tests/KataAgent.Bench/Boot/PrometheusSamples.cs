using System.Globalization;

namespace KataAgent.Bench.Boot;

/// <summary>Reads single samples out of GetMetrics' Prometheus text (<c>name{item="x"} value</c> lines).</summary>
internal static class PrometheusSamples
{
    /// <summary>The value of <paramref name="name"/> with label item=<paramref name="item"/> (or without labels when null).</summary>
    public static double Value(string text, string name, string? item = null)
    {
        string key = item is null ? name : $"{name}{{item=\"{item}\"}}";
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(key + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(key.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"GetMetrics has no sample {key}");
    }
}
