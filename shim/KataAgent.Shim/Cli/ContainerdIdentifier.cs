using System.Text.RegularExpressions;

namespace KataAgent.Shim.Cli;

/// <summary>
/// containerd's identifier rule (<c>identifiers/validate.go</c>), which every namespace and task id it sends a shim
/// already passed: letters and digits in runs joined by single <c>.</c>, <c>_</c> or <c>-</c>, at most 76 characters.
/// Checked again here because the id names files (the socket hash, B's state directories).
/// </summary>
internal static partial class ContainerdIdentifier
{
    /// <summary>containerd's <c>maxLength</c>.</summary>
    public const int MaxLength = 76;

    [GeneratedRegex("^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$")]
    private static partial Regex Pattern();

    /// <summary>Null when <paramref name="value"/> is a valid identifier, else what is wrong with it.</summary>
    public static string? Problem(string value) =>
        value.Length == 0 ? "is empty"
        : value.Length > MaxLength ? $"'{value}' is longer than {MaxLength} characters"
        : !Pattern().IsMatch(value) ? $"'{value}' is not a containerd identifier (letters and digits, joined by single '.', '_' or '-')"
        : null;
}
