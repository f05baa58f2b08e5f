using System.Globalization;

namespace KataAgent.Kactl;

/// <summary>
/// <c>--memory</c> values: a whole number with an optional binary unit, as qemu's <c>-m</c> takes
/// them (<c>512M</c>, <c>1G</c>, <c>1536MiB</c>, <c>2g</c>); a bare number is MiB, as for qemu.
/// </summary>
public static class MemorySize
{
    /// <summary>Less than this and the guest kernel cannot unpack the initrd and start the agent.</summary>
    public const int MinimumMiB = 128;

    /// <summary>qemu's limit is far above; this keeps the value an int of MiB.</summary>
    public const int MaximumMiB = 1024 * 1024;

    /// <summary>The size in MiB, or an error message that names the value and what is accepted.</summary>
    public static (int MiB, string? Error) Parse(string text)
    {
        string value = text.Trim();
        int digits = 0;
        while (digits < value.Length && char.IsAsciiDigit(value[digits]))
        {
            digits++;
        }
        string unit = value[digits..].ToUpperInvariant();
        long? unitBytes = unit switch
        {
            "" or "M" or "MB" or "MIB" => 1L << 20,
            "K" or "KB" or "KIB" => 1L << 10,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => null,
        };
        if (digits == 0 || unitBytes is null || !long.TryParse(value.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out long number))
        {
            return (0, $"--memory takes a size such as 512M or 1G (K, M, G or T; a bare number is MiB), not '{text}'");
        }
        if (number > long.MaxValue / unitBytes.Value || number * unitBytes.Value % (1L << 20) != 0)
        {
            return (0, number > long.MaxValue / unitBytes.Value
                ? $"--memory {text} is too large (at most {MaximumMiB / 1024 / 1024}T)"
                : $"--memory {text} is not a whole number of MiB");
        }
        long mebibytes = number * unitBytes.Value >> 20;
        if (mebibytes < MinimumMiB)
        {
            return (0, $"--memory {text} is too small: the guest needs at least {MinimumMiB}M");
        }
        if (mebibytes > MaximumMiB)
        {
            return (0, $"--memory {text} is too large (at most {MaximumMiB / 1024 / 1024}T)");
        }
        return ((int)mebibytes, null);
    }
}
