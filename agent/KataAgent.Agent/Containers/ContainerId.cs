using System.Text.RegularExpressions;

namespace KataAgent.Agent.Containers;

/// <summary>
/// Container and exec ids become path components (bundle directories, cgroup names): only a safe
/// character set and length pass, before anything touches the filesystem.
/// </summary>
public static partial class ContainerId
{
    public const int MaxLength = 128;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex Safe();

    /// <summary>Null when valid, else the problem.</summary>
    public static string? Problem(string id) =>
        id.Length == 0 ? "is empty"
        : id.Length > MaxLength ? $"is longer than {MaxLength} characters"
        : !Safe().IsMatch(id) ? $"'{id}' may hold only letters, digits, '_', '.' and '-', and must start with a letter or digit"
        : null;
}
