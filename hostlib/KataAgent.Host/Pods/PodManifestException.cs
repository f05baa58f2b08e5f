namespace KataAgent.Host.Pods;

/// <summary>A Pod manifest or <see cref="PodSpec"/> the library cannot run: <see cref="Field"/> names what is wrong.</summary>
public sealed class PodManifestException : Exception
{
    /// <summary>Creates the error for a field path such as "spec.containers[1].resources.limits.memory".</summary>
    public PodManifestException(string field, string message)
        : this(field, message, line: 0, file: null)
    {
    }

    /// <summary>Creates the error for a field path, with where it is in the manifest: its <paramref name="line"/> (1-based; 0 when unknown) and <paramref name="file"/> (null when the text came from no file).</summary>
    public PodManifestException(string field, string message, int line, string? file)
        : base(Format(field, message, line, file))
    {
        Field = field;
        Problem = message;
        Line = line;
        File = file;
    }

    /// <summary>The field's path in the manifest, as kubectl names it; empty for the document as a whole.</summary>
    public string Field { get; }

    /// <summary>What is wrong with it, without the field's path.</summary>
    public string Problem { get; }

    /// <summary>The manifest line the field is on (1-based); 0 when unknown (a <see cref="PodSpec"/> built in code, a check across fields).</summary>
    public int Line { get; }

    /// <summary>The manifest file; null when the text came from no file.</summary>
    public string? File { get; }

    /// <summary>The same error, said of <paramref name="file"/>.</summary>
    public PodManifestException InFile(string file) => new(Field, Problem, Line, file);

    // "pod.yaml:12: spec.containers[0].livenessProbe: not supported", as compilers name a place; without a file
    // "spec.containers[0].livenessProbe: not supported (line 12)".
    private static string Format(string field, string message, int line, string? file)
    {
        string what = field.Length == 0 ? message : $"{field}: {message}";
        return file is null
            ? line > 0 ? $"{what} (line {line})" : what
            : line > 0 ? $"{file}:{line}: {what}" : $"{file}: {what}";
    }
}
