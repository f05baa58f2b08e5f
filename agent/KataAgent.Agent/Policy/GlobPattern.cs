namespace KataAgent.Agent.Policy;

/// <summary>
/// A policy glob: <c>*</c> matches any run of characters (slashes included), <c>?</c> one
/// character, anything else itself. No character classes: a policy is read by people who must
/// see at a glance what it allows.
/// </summary>
internal static class GlobPattern
{
    /// <summary>Whether <paramref name="text"/> matches <paramref name="pattern"/> as a whole.</summary>
    public static bool IsMatch(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, resume = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]) && pattern[p] != '*')
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }

    /// <summary>Whether any of <paramref name="patterns"/> matches <paramref name="text"/>.</summary>
    public static bool AnyMatch(IEnumerable<string> patterns, string text) => patterns.Any(p => IsMatch(p, text));
}
