namespace KataAgent.Shim.Cli;

/// <summary>
/// Go's <c>path/filepath.Join</c> and <c>Clean</c> on Linux, byte for byte: the socket name is a hash of a joined
/// path, so <c>/a//b/</c> and <c>/a/b</c> must give the same name here as in containerd.
/// </summary>
internal static class GoPath
{
    /// <summary><c>filepath.Join</c>: the non-empty elements joined by <c>/</c> and cleaned; "" when all are empty.</summary>
    public static string Join(params string[] elements)
    {
        var nonEmpty = elements.Where(e => e.Length > 0).ToArray();
        return nonEmpty.Length == 0 ? "" : Clean(string.Join('/', nonEmpty));
    }

    /// <summary>
    /// <c>filepath.Clean</c>: repeated slashes made one, <c>.</c> elements dropped, <c>..</c> eating the element
    /// before it (and dropped at the root), no trailing slash; "" becomes ".".
    /// </summary>
    public static string Clean(string path)
    {
        if (path.Length == 0)
            return ".";
        bool rooted = path[0] == '/';
        var parts = new List<string>();
        foreach (string part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                    parts.RemoveAt(parts.Count - 1);
                else if (!rooted)
                    parts.Add("..");
                continue;
            }
            parts.Add(part);
        }
        string joined = string.Join('/', parts);
        return rooted ? "/" + joined : joined.Length == 0 ? "." : joined;
    }
}
