namespace KataAgent.Shim.Tasks.Stdio;

/// <summary>One stdio path of a Create or Exec request, parsed and checked before it touches the filesystem.</summary>
internal sealed record StdioTarget(StdioKind Kind, string Path)
{
    /// <summary>No stream.</summary>
    public static readonly StdioTarget None = new(StdioKind.None, "");

    /// <summary>Parses <paramref name="uri"/>, the request's field <paramref name="field"/>.</summary>
    /// <exception cref="TaskException">A relative path or a NUL (InvalidArgument), or <c>binary://</c> logging (Unimplemented).</exception>
    public static StdioTarget Parse(string uri, string field)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.Length == 0)
        {
            return None;
        }
        StdioKind kind = StdioKind.Fifo;
        string path = uri;
        int scheme = uri.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            string name = uri[..scheme];
            path = uri[(scheme + 3)..];
            kind = name switch
            {
                "fifo" => StdioKind.Fifo,
                "file" => StdioKind.File,
                "binary" => throw TaskException.Unimplemented($"{field}: binary:// logging drivers are not supported by this shim (use FIFOs or file://)"),
                _ => throw TaskException.InvalidArgument(field, $"unknown scheme '{name}' (expected a FIFO path or file://)"),
            };
            int query = path.IndexOf('?');
            if (query >= 0)
            {
                path = path[..query];
            }
        }
        if (path.Contains('\0') || !System.IO.Path.IsPathFullyQualified(path))
        {
            throw TaskException.InvalidArgument(field, $"'{uri}' is not an absolute path");
        }
        return new StdioTarget(kind, path);
    }
}
