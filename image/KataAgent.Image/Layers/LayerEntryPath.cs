namespace KataAgent.Image.Layers;

/// <summary>
/// A layer entry's name as components relative to the rootfs: <c>./</c> prefixes, repeated and trailing slashes and
/// <c>.</c> components dropped. What would leave the rootfs by name alone (an absolute name, a <c>..</c> component)
/// is <see cref="ImageErrorKind.PathEscape"/>; no real layer writer emits either.
/// </summary>
internal static class LayerEntryPath
{
    /// <summary>The components of <paramref name="name"/>; empty for the layer's root (<c>.</c>, <c>./</c>).</summary>
    /// <param name="name">The name as the tar entry gives it.</param>
    /// <param name="what">How the error names it ("entry 'x'", "hardlink target of 'y'").</param>
    public static string[] Split(string name, string what)
    {
        if (name.StartsWith('/'))
            throw new ImageException(ImageErrorKind.PathEscape, $"{what} is an absolute path; layer paths are relative to the rootfs");
        if (name.Contains('\0'))
            throw new ImageException(ImageErrorKind.InvalidInput, $"{what} contains a NUL byte");
        var components = new List<string>();
        foreach (string part in name.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            if (part == "..")
                throw new ImageException(ImageErrorKind.PathEscape, $"{what} has a '..' component");
            components.Add(part);
        }
        return [.. components];
    }

    /// <summary>The components joined with <c>/</c> (the key the applier tracks a path by).</summary>
    public static string Join(ReadOnlySpan<string> components) => string.Join('/', components.ToArray());
}
