using System.Globalization;

namespace KataAgent.Host.Pods.Manifests;

/// <summary>Durations as Kubernetes annotations write them, Go's time.ParseDuration syntax ("90s", "1m30s", "1.5h", "500ms").</summary>
internal static class GoDuration
{
    private static readonly (string Unit, double Ticks)[] Units =
    [
        ("ns", TimeSpan.TicksPerMillisecond / 1e6),
        ("us", TimeSpan.TicksPerMillisecond / 1e3),
        ("µs", TimeSpan.TicksPerMillisecond / 1e3),
        ("μs", TimeSpan.TicksPerMillisecond / 1e3),
        ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond),
        ("m", TimeSpan.TicksPerMinute),
        ("h", TimeSpan.TicksPerHour),
    ];

    /// <summary>Parses a sequence of decimal numbers each with a unit; false for anything else (or beyond TimeSpan's range).</summary>
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        int pos = 0;
        bool negative = false;
        if (pos < text.Length && text[pos] is '-' or '+')
        {
            negative = text[pos] == '-';
            pos++;
        }
        if (text[pos..] == "0")
        {
            return true;
        }
        if (pos == text.Length)
        {
            return false;
        }
        double ticks = 0;
        while (pos < text.Length)
        {
            int start = pos;
            while (pos < text.Length && (char.IsAsciiDigit(text[pos]) || text[pos] == '.'))
            {
                pos++;
            }
            if (!double.TryParse(text.AsSpan(start, pos - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
            {
                return false;
            }
            int unitStart = pos;
            while (pos < text.Length && !char.IsAsciiDigit(text[pos]) && text[pos] != '.')
            {
                pos++;
            }
            string unit = text[unitStart..pos];
            int index = Array.FindIndex(Units, u => u.Unit == unit);
            if (index < 0)
            {
                return false;
            }
            ticks += number * Units[index].Ticks;
        }
        if (ticks >= TimeSpan.MaxValue.Ticks)
        {
            return false;
        }
        duration = TimeSpan.FromTicks((long)Math.Ceiling(ticks));
        if (negative)
        {
            duration = -duration;
        }
        return true;
    }
}
