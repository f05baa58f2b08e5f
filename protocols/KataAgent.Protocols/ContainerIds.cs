using System.Text.RegularExpressions;

namespace KataAgent.Protocols;

/// <summary>
/// The ids the agent accepts for containers, execs and sandboxes. They become path components on both
/// sides (the agent's bundle directories and cgroup names, /run/kata-containers/ID; the host's disk
/// images in a sandbox's state directory), so one rule, checked before anything touches a filesystem:
/// a safe character set and a bounded length.
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
