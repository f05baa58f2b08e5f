using System.Globalization;

namespace KataAgent.Linux.Netlink.Route;

/// <summary>Link-layer addresses as text the way ip(8) and Kata write them: lower-case hex pairs joined by colons.</summary>
internal static class MacAddress
{
    /// <summary>"aa:bb:cc:dd:ee:ff" (any length of octets).</summary>
    public static string Format(ReadOnlySpan<byte> address) =>
        string.Join(':', address.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>Parses six hex pairs separated by ':' or '-' (either case).</summary>
    public static bool TryParse(string? text, out byte[] address)
    {
        address = [];
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        string[] parts = text.Split(text.Contains('-') ? '-' : ':');
        if (parts.Length != 6)
        {
            return false;
        }
        var bytes = new byte[6];
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length is < 1 or > 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }
        address = bytes;
        return true;
    }

    /// <summary>As <see cref="TryParse"/>, throwing <see cref="FormatException"/> that quotes the text.</summary>
    public static byte[] Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"\"{text}\" is not a MAC address (six hex pairs separated by ':')");
}
