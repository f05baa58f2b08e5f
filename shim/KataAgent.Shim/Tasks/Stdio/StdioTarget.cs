namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>One stdio path of a Create or Exec request, parsed and checked before it touches the filesystem.</summary>
internal sealed record StdioTarget(StdioKind Kind, string Path)
{
    /// <summary>A <see cref="StdioKind.Binary"/> logger's arguments: the URI query's keys, each followed by its first value, in their order.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>No stream.</summary>
    public static readonly StdioTarget None = new(StdioKind.None, "");

    /// <summary>Parses <paramref name="uri"/>, the request's field <paramref name="field"/>.</summary>
    /// <exception cref="TaskException">A relative path, a NUL or an unknown scheme (InvalidArgument).</exception>
    public static StdioTarget Parse(string uri, string field)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.Length == 0)
        {
            return None;
        }
        StdioKind kind = StdioKind.Fifo;
        string path = uri;
        IReadOnlyList<string> arguments = [];
        int scheme = uri.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            string name = uri[..scheme];
            path = uri[(scheme + 3)..];
            kind = name switch
            {
                "fifo" => StdioKind.Fifo,
                "file" => StdioKind.File,
                "binary" => StdioKind.Binary,
                _ => throw TaskException.InvalidArgument(field, $"unknown scheme '{name}' (expected a FIFO path, file:// or binary://)"),
            };
            int query = path.IndexOf('?');
            if (query >= 0)
            {
                if (kind == StdioKind.Binary)
                {
                    arguments = QueryArguments(path[(query + 1)..]);
                }
                path = path[..query];
            }
            if (kind == StdioKind.Binary)
            {
                // Go's url.Parse unescapes the path; containerd runs what it names.
                path = Uri.UnescapeDataString(path);
            }
        }
        if (path.Contains('\0') || !System.IO.Path.IsPathFullyQualified(path))
        {
            throw TaskException.InvalidArgument(field, $"'{uri}' is not an absolute path");
        }
        return new StdioTarget(kind, path) { Arguments = arguments };
    }

    /// <summary>
    /// The logger's arguments as containerd's NewBinaryCmd makes them from <c>url.Query()</c>: each key, then its first
    /// value (an empty one too: <c>?flag</c> gives "flag", ""). Go walks a map, in no order; here the query's order.
    /// </summary>
    private static List<string> QueryArguments(string query)
    {
        var arguments = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = Unescape(eq < 0 ? pair : pair[..eq]);
            if (seen.Add(key))
            {
                arguments.Add(key);
                arguments.Add(eq < 0 ? "" : Unescape(pair[(eq + 1)..]));
            }
        }
        return arguments;
    }

    private static string Unescape(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));
}
