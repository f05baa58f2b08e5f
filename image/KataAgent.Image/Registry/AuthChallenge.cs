namespace KataAgent.Image.Registry;

/// <summary>
/// One challenge of a <c>WWW-Authenticate</c> header: the scheme (<c>Bearer</c>, <c>Basic</c>) and its parameters
/// (<c>realm</c>, <c>service</c>, <c>scope</c>), parsed as RFC 7235 writes them (quoted strings with escapes).
/// </summary>
/// <param name="Scheme">The scheme, as sent.</param>
/// <param name="Parameters">The auth-params, names lowercased.</param>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>A parameter's value, or null.</summary>
    public string? this[string name] => Parameters.TryGetValue(name, out var value) ? value : null;

    /// <summary>The challenges in one header value (a header may hold several, comma separated).</summary>
    public static IReadOnlyList<AuthChallenge> Parse(string header)
    {
        var challenges = new List<AuthChallenge>();
        int i = 0;
        string? scheme = null;
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        while (i < header.Length)
        {
            SkipSeparators(header, ref i);
            if (i >= header.Length)
                break;
            int start = i;
            while (i < header.Length && header[i] is not (' ' or '=' or ','))
                i++;
            var token = header[start..i];
            int afterToken = i;
            while (i < header.Length && header[i] == ' ')
                i++;
            if (i < header.Length && header[i] == '=' && scheme is not null)
            {
                i++;
                while (i < header.Length && header[i] == ' ')
                    i++;
                parameters[token.ToLowerInvariant()] = ReadValue(header, ref i);
                continue;
            }
            // A token not followed by '=' starts the next challenge (token68 forms are not used by registries).
            i = afterToken;
            if (scheme is not null)
                challenges.Add(new AuthChallenge(scheme, parameters));
            scheme = token;
            parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        }
        if (scheme is not null)
            challenges.Add(new AuthChallenge(scheme, parameters));
        return challenges;
    }

    private static void SkipSeparators(string header, ref int i)
    {
        while (i < header.Length && header[i] is ' ' or ',' or '\t')
            i++;
    }

    private static string ReadValue(string header, ref int i)
    {
        if (i < header.Length && header[i] == '"')
        {
            i++;
            var value = new System.Text.StringBuilder();
            while (i < header.Length && header[i] != '"')
            {
                if (header[i] == '\\' && i + 1 < header.Length)
                    i++;
                value.Append(header[i]);
                i++;
            }
            i++;
            return value.ToString();
        }
        int start = i;
        while (i < header.Length && header[i] is not (',' or ' '))
            i++;
        return header[start..i];
    }
}
