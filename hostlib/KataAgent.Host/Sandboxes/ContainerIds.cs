using System.Text.RegularExpressions;

namespace KataAgent.Host.Sandboxes;

/// <summary>
/// Container and sandbox ids become host paths (disk images in the state directory) and guest paths
/// (/run/kata-containers/ID): checked on the host with the agent's own rule before anything is written.
/// </summary>
public static partial class ContainerIds
{
    /// <summary>Longest id the agent accepts.</summary>
    public const int MaxLength = 128;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex Safe();

    /// <summary>Null when valid, else what is wrong with it.</summary>
    public static string? Problem(string id) =>
        string.IsNullOrEmpty(id) ? "is empty"
        : id.Length > MaxLength ? $"is longer than {MaxLength} characters"
        : !Safe().IsMatch(id) ? $"'{id}' may hold only letters, digits, '_', '.' and '-', and must start with a letter or digit"
        : null;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="parameterName"/> when <paramref name="id"/> is not valid.</summary>
    public static void Validate(string id, string parameterName)
    {
        if (Problem(id) is { } problem)
        {
            throw new ArgumentException($"{parameterName} {problem}", parameterName);
        }
    }
}
