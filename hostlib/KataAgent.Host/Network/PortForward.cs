namespace KataAgent.Host.Network;

/// <summary>
/// An inbound port for the passt model (passt forwards nothing by default): connections to
/// <paramref name="HostPort"/> in the pod netns reach <paramref name="GuestPort"/> in the guest.
/// </summary>
/// <param name="HostPort">The port in the pod netns (passt listens there).</param>
/// <param name="GuestPort">The port in the guest.</param>
/// <param name="Protocol">"tcp" or "udp".</param>
public sealed record PortForward(int HostPort, int GuestPort, string Protocol = "tcp")
{
    /// <summary>Parses "HOSTPORT:PORT", "PORT" (the same on both sides), with an optional "/tcp" or "/udp".</summary>
    public static PortForward Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string protocol = "tcp";
        string ports = text;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            protocol = text[(slash + 1)..];
            ports = text[..slash];
            if (protocol is not ("tcp" or "udp"))
            {
                throw new FormatException($"'{text}': the protocol must be tcp or udp, not '{protocol}'");
            }
        }
        string[] parts = ports.Split(':');
        if (parts.Length is < 1 or > 2 || !parts.All(IsPort))
        {
            throw new FormatException($"'{text}' is not a port forward: expected HOSTPORT:PORT or PORT (1-65535), optionally /tcp or /udp");
        }
        int host = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        int guest = int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture);
        return new PortForward(host, guest, protocol);
    }

    private static bool IsPort(string text) =>
        text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) is >= 1 and <= 65535;

    /// <summary>"HOSTPORT:PORT/PROTOCOL", as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => $"{HostPort}:{GuestPort}/{Protocol}";
}
