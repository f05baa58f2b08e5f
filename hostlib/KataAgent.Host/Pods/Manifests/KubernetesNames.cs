using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace KataAgent.Host.Pods.Manifests;

/// <summary>Kubernetes' name rules (apimachinery validation), with the messages it gives.</summary>
internal static partial class KubernetesNames
{
    /// <summary>The most characters a pod name may have here: the sandbox id's limit (Kubernetes allows 253).</summary>
    public const int MaxPodNameLength = 128;

    /// <summary>Why <paramref name="value"/> is not a DNS-1123 label (lowercase letters, digits, '-', alphanumeric at both ends, at most 63); null when it is.</summary>
    public static string? LabelProblem(string value) =>
        value.Length == 0 ? "must not be empty"
        : value.Length > 63 ? $"'{value}' is longer than 63 characters"
        : Label().IsMatch(value) ? null
        : $"'{value}' is not a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit";

    /// <summary>Why <paramref name="value"/> is not a DNS-1123 subdomain (labels joined by '.') of at most <paramref name="maxLength"/>; null when it is.</summary>
    public static string? SubdomainProblem(string value, int maxLength) =>
        value.Length == 0 ? "must not be empty"
        : value.Length > maxLength ? $"'{value}' is longer than {maxLength} characters"
        : Subdomain().IsMatch(value) ? null
        : $"'{value}' is not a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";

    /// <summary>Why <paramref name="value"/> is not an environment variable name (printable ASCII but '=', as Kubernetes ≥ 1.34 takes); null when it is.</summary>
    public static string? EnvNameProblem(string value) =>
        value.Length == 0 ? "must not be empty"
        : value.All(c => c is >= ' ' and <= '~' and not '=') ? null
        : $"'{value}' is not an environment variable name: printable ASCII characters other than '='";

    /// <summary>Why <paramref name="value"/> is not a port name (IANA_SVC_NAME: at most 15, lowercase letters, digits and '-', a letter in it, no '--'); null when it is.</summary>
    public static string? PortNameProblem(string value) =>
        value.Length is 0 or > 15 ? $"'{value}' must be 1 to 15 characters"
        : !PortName().IsMatch(value) || value.Contains("--", StringComparison.Ordinal) || !value.Any(char.IsAsciiLetterLower)
            ? $"'{value}' is not a port name: lowercase letters, digits and '-' (no '--', not at either end), with at least one letter"
            : null;

    /// <summary>An IPv4 address in dotted-quad form or an IPv6 address, as Go's net.ParseIP takes them (not "1" for 0.0.0.1, no prefix length).</summary>
    public static bool IsIpAddress(string value) =>
        value.Contains(':', StringComparison.Ordinal)
            ? IPAddress.TryParse(value, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 && !value.Contains('/', StringComparison.Ordinal)
            : value.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255);

    /// <summary>Why <paramref name="path"/> is not an absolute path free of '..' elements and NULs; null when it is.</summary>
    public static string? AbsolutePathProblem(string path) =>
        path.Length == 0 ? "must not be empty"
        : path[0] != '/' ? $"'{path}' is not an absolute path"
        : path.Contains('\0', StringComparison.Ordinal) ? "contains a NUL character"
        : path.Split('/').Contains("..") ? $"'{path}' must not contain '..'"
        : null;

    /// <summary>Why <paramref name="path"/> is not a relative path inside a volume (no leading '/', no '..' element, no NUL); null when it is.</summary>
    public static string? RelativePathProblem(string path) =>
        path.StartsWith('/') ? $"'{path}' must be a relative path"
        : path.Contains('\0', StringComparison.Ordinal) ? "contains a NUL character"
        : path.Split('/').Contains("..") ? $"'{path}' must not contain '..'"
        : null;

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex Label();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Subdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex PortName();
}
