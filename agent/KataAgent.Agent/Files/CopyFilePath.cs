using System.Text;
using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Files;

/// <summary>
/// CopyFile's <c>path</c>, checked as text before anything touches the disk: absolute, normalised (no empty,
/// <c>.</c> or <c>..</c> component), and strictly below the allowed root. What is on disk (symlinks) is the
/// <see cref="DirectoryWalk"/>'s concern.
/// </summary>
internal static class CopyFilePath
{
    private const string Field = "path";
    private const int NameMax = 255;

    /// <summary>The components of <paramref name="path"/> below <paramref name="root"/> (at least one), or
    /// INVALID_ARGUMENT naming <c>path</c>.</summary>
    public static IReadOnlyList<string> ComponentsBelow(string root, string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw AgentException.InvalidArgument(Field, "is empty");
        }
        if (path.Contains('\0'))
        {
            throw AgentException.InvalidArgument(Field, "contains a NUL byte");
        }
        if (path[0] != '/')
        {
            throw AgentException.InvalidArgument(Field, $"\"{path}\" is not absolute");
        }
        string[] components = path[1..].Split('/');
        foreach (string component in components)
        {
            if (component is "..")
            {
                throw AgentException.InvalidArgument(Field, $"\"{path}\" contains a '..' component");
            }
            if (component is "" or ".")
            {
                throw AgentException.InvalidArgument(Field, $"\"{path}\" is not normalised (an empty or '.' component)");
            }
            if (Encoding.UTF8.GetByteCount(component) > NameMax)
            {
                throw AgentException.InvalidArgument(Field, $"a component of \"{path}\" is longer than {NameMax} bytes");
            }
        }
        string[] rootComponents = root.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (components.Length <= rootComponents.Length || !components.AsSpan(0, rootComponents.Length).SequenceEqual(rootComponents))
        {
            throw AgentException.InvalidArgument(Field, $"\"{path}\" is not below {root}, the only tree CopyFile writes to");
        }
        return components[rootComponents.Length..];
    }
}
