using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using KataAgent.Linux.Vsock;

namespace KataAgent.Linux.Addressing;

/// <summary>
/// One address syntax for every side (agent <c>--server-addr</c>, <c>KATA_AGENT_SERVER_ADDR</c>,
/// <c>agent.server_addr=</c>, host library and <c>kactl --addr</c>). Parsing validates everything
/// the transport will need, so a bad address fails here with a message that says what is wrong.
/// </summary>
public sealed record AgentAddress
{
    /// <summary>Kata's default agent port (DEFAULT_AGENT_VSOCK_PORT).</summary>
    public const uint DefaultAgentPort = 1024;

    /// <summary>Kata's default log port.</summary>
    public const uint DefaultLogPort = 1025;

    /// <summary>Kata's default debug console port.</summary>
    public const uint DefaultDebugConsolePort = 1026;

    /// <summary>The agent's default listening address: every CID, port 1024.</summary>
    public static AgentAddress DefaultServer { get; } = Parse("vsock://-1:1024");

    private AgentAddress(string text, AgentAddressKind kind)
    {
        Text = text;
        Kind = kind;
    }

    /// <summary>The address as written.</summary>
    public string Text { get; }

    /// <summary>Which transport.</summary>
    public AgentAddressKind Kind { get; }

    /// <summary>vsock CID (VMADDR_CID_ANY for -1). Vsock only.</summary>
    public uint Cid { get; private init; }

    /// <summary>vsock or hybrid-vsock port, or TCP port.</summary>
    public uint Port { get; private init; }

    /// <summary>Socket path (unix, hybrid vsock) or device path (serial by path). Abstract unix names start with '@'.</summary>
    public string? Path { get; private init; }

    /// <summary>The virtio-serial port name when the address names a port rather than a device path.</summary>
    public string? SerialPortName { get; private init; }

    /// <summary>The loopback address of a TCP address.</summary>
    public IPAddress? Host { get; private init; }

    /// <summary>True for unix://@name (Linux abstract namespace).</summary>
    public bool IsAbstractUnix => Kind == AgentAddressKind.Unix && Path!.StartsWith('@');

    /// <summary>The address as written (<see cref="Text"/>).</summary>
    public override string ToString() => Text;

    /// <summary>Parses an address or throws <see cref="FormatException"/> naming the problem.</summary>
    public static AgentAddress Parse(string text)
    {
        if (!TryParse(text, out var address, out var error))
        {
            throw new FormatException(error);
        }
        return address;
    }

    /// <summary>Parses an address; on failure <paramref name="error"/> says what is wrong.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out AgentAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "invalid agent address '': it is empty; expected one of vsock://CID:PORT, hvsock:///PATH:PORT, serial:///DEVICE or serial://NAME, unix:///PATH, tcp://127.0.0.1:PORT";
            return false;
        }

        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            error = $"invalid agent address '{text}': no scheme; expected one of vsock://, hvsock://, serial://, unix://, tcp://";
            return false;
        }
        string scheme = text[..schemeEnd];
        string rest = text[(schemeEnd + 3)..];
        string? problem = scheme switch
        {
            "vsock" => ParseVsock(text, rest, out address),
            "hvsock" => ParseHybridVsock(text, rest, out address),
            "serial" => ParseSerial(text, rest, out address),
            "unix" => ParseUnix(text, rest, out address),
            "tcp" => ParseTcp(text, rest, out address),
            _ => $"unknown scheme '{scheme}'; expected vsock, hvsock, serial, unix or tcp",
        };
        if (problem is not null)
        {
            address = null;
            error = $"invalid agent address '{text}': {problem}";
            return false;
        }
        error = null;
        return address is not null;
    }

    private static string? ParseVsock(string text, string rest, out AgentAddress? address)
    {
        address = null;
        int colon = rest.LastIndexOf(':');
        if (colon < 0)
        {
            return "vsock addresses are vsock://CID:PORT (CID -1 for any)";
        }
        string cidText = rest[..colon];
        uint cid;
        if (cidText == "-1")
        {
            cid = VsockAddress.AnyCid;
        }
        else if (!uint.TryParse(cidText, NumberStyles.None, CultureInfo.InvariantCulture, out cid))
        {
            return $"CID '{cidText}' is not -1 or a number from 0 to {uint.MaxValue - 1}";
        }
        if (!TryParsePort(rest[(colon + 1)..], uint.MaxValue - 1, out uint port, out string? portProblem))
        {
            return portProblem;
        }
        address = new AgentAddress(text, AgentAddressKind.Vsock) { Cid = cid, Port = port };
        return null;
    }

    private static string? ParseHybridVsock(string text, string rest, out AgentAddress? address)
    {
        address = null;
        int colon = rest.LastIndexOf(':');
        if (colon < 0)
        {
            return "hybrid vsock addresses are hvsock:///PATH/TO/VM.SOCK:PORT";
        }
        string path = rest[..colon];
        if (!path.StartsWith('/'))
        {
            return $"socket path '{path}' is not absolute";
        }
        if (!TryParsePort(rest[(colon + 1)..], uint.MaxValue - 1, out uint port, out string? portProblem))
        {
            return portProblem;
        }
        address = new AgentAddress(text, AgentAddressKind.HybridVsock) { Path = path, Port = port };
        return null;
    }

    private static string? ParseSerial(string text, string rest, out AgentAddress? address)
    {
        address = null;
        if (rest.Length == 0)
        {
            return "serial addresses are serial:///DEVICE or serial://PORT-NAME";
        }
        if (rest.StartsWith('/'))
        {
            if (rest.Contains('\0'))
            {
                return "the device path contains a NUL byte";
            }
            address = new AgentAddress(text, AgentAddressKind.Serial) { Path = rest };
            return null;
        }
        foreach (char c in rest)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return $"port name '{rest}' may hold only letters, digits, '.', '_' and '-'";
            }
        }
        address = new AgentAddress(text, AgentAddressKind.Serial) { SerialPortName = rest };
        return null;
    }

    private static string? ParseUnix(string text, string rest, out AgentAddress? address)
    {
        address = null;
        if (rest.Length < 2 || !(rest.StartsWith('/') || rest.StartsWith('@')))
        {
            return "unix addresses are unix:///ABSOLUTE/PATH or unix://@ABSTRACT-NAME";
        }
        if (rest.Contains('\0'))
        {
            return "the socket path contains a NUL byte";
        }
        // sun_path is 108 bytes including the terminating NUL.
        if (System.Text.Encoding.UTF8.GetByteCount(rest) > 107)
        {
            return "the socket path is longer than the 107 bytes a unix socket address can hold";
        }
        address = new AgentAddress(text, AgentAddressKind.Unix) { Path = rest };
        return null;
    }

    private static string? ParseTcp(string text, string rest, out AgentAddress? address)
    {
        address = null;
        int colon = rest.LastIndexOf(':');
        if (colon < 0)
        {
            return "tcp addresses are tcp://127.0.0.1:PORT or tcp://[::1]:PORT";
        }
        string hostText = rest[..colon];
        if (hostText.StartsWith('[') && hostText.EndsWith(']'))
        {
            hostText = hostText[1..^1];
        }
        IPAddress? host = hostText == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(hostText, out var parsed) ? parsed : null;
        if (host is null)
        {
            return $"host '{hostText}' is not an IP address";
        }
        if (!IPAddress.IsLoopback(host))
        {
            return $"host '{hostText}' is not a loopback address; tcp:// is for tests on loopback only";
        }
        if (!TryParsePort(rest[(colon + 1)..], ushort.MaxValue, out uint port, out string? portProblem))
        {
            return portProblem;
        }
        address = new AgentAddress(text, AgentAddressKind.Tcp) { Host = host, Port = port };
        return null;
    }

    private static bool TryParsePort(string text, uint max, out uint port, [NotNullWhen(false)] out string? problem)
    {
        if (!uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > max)
        {
            problem = $"port '{text}' is not a number from 0 to {max}";
            return false;
        }
        problem = null;
        return true;
    }
}
