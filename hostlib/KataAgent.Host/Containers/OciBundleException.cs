namespace KataAgent.Host.Containers;

/// <summary>
/// An OCI bundle could not be loaded: config.json is missing, unreadable or malformed, or holds a
/// value Kata's Spec cannot carry. The message names the file and, for content errors, the JSON
/// path (<c>$.process.args[1]</c>) and line.
/// </summary>
public sealed class OciBundleException : KataAgentException
{
    /// <summary>Creates the exception.</summary>
    public OciBundleException(string configPath, string? jsonPath, long? lineNumber, string problem, Exception? inner = null)
        : base(KataAgentErrorKind.Bundle, Describe(configPath, jsonPath, lineNumber, problem), inner)
    {
        ConfigPath = configPath;
        JsonPath = jsonPath;
        LineNumber = lineNumber;
        Problem = problem;
    }

    /// <summary>The config.json (or other file) the problem is in.</summary>
    public string ConfigPath { get; }

    /// <summary>Where in the document, as a JSON path (<c>$.linux.namespaces[2].type</c>); null when the file itself is the problem.</summary>
    public string? JsonPath { get; }

    /// <summary>1-based line of the problem when the JSON reader knows it.</summary>
    public long? LineNumber { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }

    private static string Describe(string configPath, string? jsonPath, long? lineNumber, string problem)
    {
        string where = jsonPath is null ? configPath : lineNumber is { } line ? $"{configPath}: {jsonPath} (line {line})" : $"{configPath}: {jsonPath}";
        return $"{where}: {problem}";
    }
}
