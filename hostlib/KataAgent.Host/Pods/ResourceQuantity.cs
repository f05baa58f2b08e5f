using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;

namespace KataAgent.Host.Pods;

/// <summary>
/// A Kubernetes resource quantity ("250m", "1.5Gi", "1e3", "0.5"), parsed exactly as Kubernetes' resource.Quantity
/// parses one: the same grammar (a signed decimal number, then a binary SI suffix Ki…Ei, a decimal SI suffix
/// n u m k M G T P E, or an exponent e/E and a signed integer), the same exact decimal arithmetic (no floating
/// point), and the same rounding: a value is first rounded up to a whole nano (10⁻⁹), <see cref="ToMilli"/> and
/// <see cref="ToUnits"/> then round up (away from zero) as Quantity.MilliValue and Quantity.Value do.
/// </summary>
/// <remarks>
/// Kubernetes' grammar has corners this keeps on purpose, since a manifest Kubernetes takes must load here too:
/// "1." and ".5" are numbers, and a sign or a dot alone ("+", "-", ".") is zero.
/// </remarks>
public readonly struct ResourceQuantity : IEquatable<ResourceQuantity>
{
    // The value is Unscaled × 10^-9: Kubernetes rounds every parsed quantity up to a whole nano.
    private const int NanoDigits = 9;

    // A larger exponent cannot give a non-zero value an int64 holds: refused rather than expanded into an enormous
    // number (Kubernetes would cap or overflow it).
    private const int MaxExponent = 40;

    private static readonly BigInteger Nano = BigInteger.Pow(10, NanoDigits);

    private readonly BigInteger _nanos;

    private readonly string? _text;

    private ResourceQuantity(BigInteger nanos, string text)
    {
        _nanos = nanos;
        _text = text;
    }

    /// <summary>The text the quantity was parsed from ("0" for the default value).</summary>
    public string Text => _text ?? "0";

    /// <summary>Below zero.</summary>
    public bool IsNegative => _nanos.Sign < 0;

    /// <summary>Exactly zero.</summary>
    public bool IsZero => _nanos.IsZero;

    /// <summary>Parses <paramref name="text"/> as Kubernetes does.</summary>
    /// <exception cref="FormatException">Not a quantity: the message says why, in Kubernetes' terms.</exception>
    public static ResourceQuantity Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var quantity, out string? error) ? quantity : throw new FormatException(error);
    }

    /// <summary>Parses <paramref name="text"/> as Kubernetes does; false, with the reason in <paramref name="error"/>, for anything else.</summary>
    public static bool TryParse(string text, out ResourceQuantity quantity, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        quantity = default;
        if (!Scan(text, out bool negative, out string whole, out string fraction, out string suffix))
        {
            error = $"'{text}' is not a quantity (a number, then Ki/Mi/Gi/Ti/Pi/Ei, n/u/m/k/M/G/T/P/E or an exponent such as e3)";
            return false;
        }
        if (!Interpret(suffix, out int base2Exponent, out int base10Exponent))
        {
            error = $"'{text}' has an unknown suffix '{suffix}' (expected Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or e<integer>)";
            return false;
        }
        // digits × 10^(base10Exponent - len(fraction)) × 2^base2Exponent, as nanos rounded up (away from zero).
        var digits = BigInteger.Parse(whole + fraction, NumberStyles.None, CultureInfo.InvariantCulture);
        if (!digits.IsZero && base10Exponent > MaxExponent)
        {
            error = $"'{text}' is too large";
            return false;
        }
        digits <<= base2Exponent;
        long scale = (long)base10Exponent - fraction.Length + NanoDigits;
        BigInteger nanos;
        if (digits.IsZero)
        {
            nanos = BigInteger.Zero;
        }
        else if (scale >= 0)
        {
            nanos = digits * BigInteger.Pow(10, (int)scale);
        }
        else if (-scale > whole.Length + fraction.Length + 20)
        {
            // Far below a nano: Kubernetes rounds any non-zero amount up to one.
            nanos = BigInteger.One;
        }
        else
        {
            var divisor = BigInteger.Pow(10, (int)-scale);
            nanos = BigInteger.DivRem(digits, divisor, out var remainder);
            if (!remainder.IsZero)
            {
                nanos += 1;
            }
        }
        quantity = new ResourceQuantity(negative ? -nanos : nanos, text);
        error = null;
        return true;
    }

    /// <summary>The value in thousandths, rounded up (away from zero): millicores for a CPU quantity (Kubernetes' MilliValue).</summary>
    /// <exception cref="OverflowException">It does not fit a 64-bit integer.</exception>
    public long ToMilli() => CeilingTo(Nano / 1000);

    /// <summary>The value rounded up to a whole number (away from zero): bytes for a memory quantity (Kubernetes' Value).</summary>
    /// <exception cref="OverflowException">It does not fit a 64-bit integer.</exception>
    public long ToUnits() => CeilingTo(Nano);

    /// <inheritdoc/>
    public bool Equals(ResourceQuantity other) => _nanos == other._nanos;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ResourceQuantity other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _nanos.GetHashCode();

    /// <summary>The text it was parsed from.</summary>
    public override string ToString() => Text;

    /// <summary>Equal values ("1Ki" and "1024").</summary>
    public static bool operator ==(ResourceQuantity left, ResourceQuantity right) => left.Equals(right);

    /// <summary>Different values.</summary>
    public static bool operator !=(ResourceQuantity left, ResourceQuantity right) => !left.Equals(right);

    private long CeilingTo(BigInteger unit)
    {
        var result = BigInteger.DivRem(BigInteger.Abs(_nanos), unit, out var remainder);
        if (!remainder.IsZero)
        {
            result += 1;
        }
        if (_nanos.Sign < 0)
        {
            result = -result;
        }
        return result < long.MinValue || result > long.MaxValue
            ? throw new OverflowException($"'{Text}' is too large")
            : (long)result;
    }

    /// <summary>
    /// Kubernetes' scanner: optional sign, digits, optional '.' and digits, then a suffix of the letters
    /// "eEinumkKMGTP", an optional sign and digits. Leading zeros are dropped; no digits at all is zero.
    /// </summary>
    private static bool Scan(string text, out bool negative, out string whole, out string fraction, out string suffix)
    {
        negative = false;
        whole = "0";
        fraction = "";
        suffix = "";
        if (text.Length == 0)
        {
            return false;
        }
        int pos = 0;
        if (text[0] is '-' or '+')
        {
            negative = text[0] == '-';
            pos++;
        }
        while (pos < text.Length && text[pos] == '0')
        {
            pos++;
        }
        int start = pos;
        while (pos < text.Length && char.IsAsciiDigit(text[pos]))
        {
            pos++;
        }
        if (pos > start)
        {
            whole = text[start..pos];
        }
        if (pos < text.Length && text[pos] == '.')
        {
            pos++;
            start = pos;
            while (pos < text.Length && char.IsAsciiDigit(text[pos]))
            {
                pos++;
            }
            fraction = text[start..pos];
        }
        int suffixStart = pos;
        while (pos < text.Length && "eEinumkKMGTP".Contains(text[pos], StringComparison.Ordinal))
        {
            pos++;
        }
        if (pos < text.Length && text[pos] is '-' or '+')
        {
            pos++;
        }
        while (pos < text.Length && char.IsAsciiDigit(text[pos]))
        {
            pos++;
        }
        suffix = text[suffixStart..];
        return pos == text.Length;
    }

    private static bool Interpret(string suffix, out int base2Exponent, out int base10Exponent)
    {
        base2Exponent = 0;
        base10Exponent = 0;
        switch (suffix)
        {
            case "n": base10Exponent = -9; return true;
            case "u": base10Exponent = -6; return true;
            case "m": base10Exponent = -3; return true;
            case "": return true;
            case "k": base10Exponent = 3; return true;
            case "M": base10Exponent = 6; return true;
            case "G": base10Exponent = 9; return true;
            case "T": base10Exponent = 12; return true;
            case "P": base10Exponent = 15; return true;
            case "E": base10Exponent = 18; return true;
            case "Ki": base2Exponent = 10; return true;
            case "Mi": base2Exponent = 20; return true;
            case "Gi": base2Exponent = 30; return true;
            case "Ti": base2Exponent = 40; return true;
            case "Pi": base2Exponent = 50; return true;
            case "Ei": base2Exponent = 60; return true;
        }
        // Go's strconv.ParseInt: an optional sign and decimal digits, within int64 (then Kubernetes takes int32).
        if (suffix.Length > 1 && suffix[0] is 'e' or 'E'
            && long.TryParse(suffix.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long exponent)
            && (suffix[1] != '+' || suffix.Length > 2))
        {
            base10Exponent = (int)Math.Clamp(exponent, int.MinValue / 2, MaxExponent + 1);
            return true;
        }
        return false;
    }
}
