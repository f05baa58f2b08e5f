using System.Globalization;

namespace KataAgent.Kactl.Images;

/// <summary>Sizes and rates as people read them: binary units, three significant digits (<c>812 B</c>, <c>1.03 MiB</c>, <c>14.2 MiB/s</c>).</summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB"];

    /// <summary><paramref name="bytes"/> in the largest unit that keeps the number at 1 or more.</summary>
    public static string Format(long bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        }
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        string number = value switch
        {
            < 10 => value.ToString("0.00", CultureInfo.InvariantCulture),
            < 100 => value.ToString("0.0", CultureInfo.InvariantCulture),
            _ => value.ToString("0", CultureInfo.InvariantCulture),
        };
        return number + " " + Units[unit];
    }

    /// <summary>A rate: <paramref name="bytes"/> over <paramref name="elapsed"/>, per second; <c>-</c> when no time passed.</summary>
    public static string Rate(long bytes, TimeSpan elapsed) =>
        elapsed > TimeSpan.Zero ? Format((long)(bytes / elapsed.TotalSeconds)) + "/s" : "-";
}
