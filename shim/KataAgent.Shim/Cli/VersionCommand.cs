using System.Reflection;
using System.Runtime.InteropServices;

namespace KataAgent.Shim.Cli;

/// <summary><c>-v</c>: the shim's version, in the layout containerd's Go shims print it.</summary>
internal static class VersionCommand
{
    /// <summary>The text <c>-v</c> prints.</summary>
    public static string Text(string program)
    {
        string informational = typeof(VersionCommand).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        int plus = informational.IndexOf('+', StringComparison.Ordinal);
        string version = plus < 0 ? informational : informational[..plus];
        string revision = plus < 0 ? "unknown" : informational[(plus + 1)..];
        return $"""
            {program}:
              Version:  {version}
              Revision: {revision}
              Runtime:  {RuntimeInformation.FrameworkDescription}

            """;
    }
}
