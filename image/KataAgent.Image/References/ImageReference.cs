using System.Text.RegularExpressions;

namespace KataAgent.Image.References;

/// <summary>
/// An image reference as docker and containerd read it: <c>[registry[:port]/]repository[:tag][@digest]</c>. A name
/// with no registry is on Docker Hub (<c>docker.io</c>, whose API host is <c>registry-1.docker.io</c>), and a
/// one-component Docker Hub repository is under <c>library/</c>. With neither tag nor digest the tag is <c>latest</c>.
/// </summary>
public sealed partial record ImageReference
{
    /// <summary>The registry name Docker Hub references normalise to.</summary>
    public const string DockerHub = "docker.io";

    private ImageReference(string registry, string repository, string? tag, Digest? digest)
    {
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>The registry's name as written (<c>docker.io</c>, <c>127.0.0.1:5000</c>, <c>quay.io</c>).</summary>
    public string Registry { get; }

    /// <summary>The repository path in the registry (<c>library/busybox</c>).</summary>
    public string Repository { get; }

    /// <summary>The tag, or null when the reference pins only a digest.</summary>
    public string? Tag { get; }

    /// <summary>The manifest digest the reference pins, if any; it wins over the tag.</summary>
    public Digest? Digest { get; }

    /// <summary>The host[:port] the distribution API is served on (Docker Hub's differs from its name).</summary>
    public string ApiHost => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    /// <summary>What to ask the manifests endpoint for: the digest when pinned, else the tag.</summary>
    public string ManifestReference => Digest?.ToString() ?? Tag!;

    /// <summary><c>registry/repository</c>, the name without tag or digest.</summary>
    public string Name => Registry + "/" + Repository;

    /// <summary>Parses a reference; a malformed one is <see cref="ImageErrorKind.InvalidInput"/> naming the part.</summary>
    public static ImageReference Parse(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Length is 0 or > 4096)
            throw Invalid(reference, "is empty or longer than 4096 characters");

        var rest = reference;
        Digest? digest = null;
        var at = rest.IndexOf('@');
        if (at >= 0)
        {
            if (!References.Digest.TryParse(rest[(at + 1)..], out var parsed))
                throw Invalid(reference, $"has a digest '{rest[(at + 1)..]}' that is not sha256:<64 hex> or sha512:<128 hex>");
            digest = parsed;
            rest = rest[..at];
        }

        string? tag = null;
        var lastSlash = rest.LastIndexOf('/');
        var colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
                throw Invalid(reference, $"has a tag '{tag}' that is not [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}");
        }

        string registry;
        string repository;
        var firstSlash = rest.IndexOf('/');
        var first = firstSlash < 0 ? null : rest[..firstSlash];
        if (first is not null && (first.Contains('.') || first.Contains(':') || first == "localhost"))
        {
            registry = first;
            repository = rest[(firstSlash + 1)..];
            if (!RegistryPattern().IsMatch(registry))
                throw Invalid(reference, $"has a registry '{registry}' that is no host[:port]");
        }
        else
        {
            registry = DockerHub;
            repository = rest;
        }
        if (registry is "index.docker.io" or "registry-1.docker.io")
            registry = DockerHub;
        if (registry == DockerHub && !repository.Contains('/'))
            repository = "library/" + repository;
        if (!RepositoryPattern().IsMatch(repository) || repository.Length > 255)
            throw Invalid(reference, $"has a repository '{repository}' that is not lowercase path components of [a-z0-9] joined by '.', '_', '__' or '-'");

        if (tag is null && digest is null)
            tag = "latest";
        return new ImageReference(registry, repository, tag, digest);
    }

    /// <summary>The same repository pinned to <paramref name="digest"/> (for a child manifest or a stored image).</summary>
    public ImageReference WithDigest(Digest digest) => new(Registry, Repository, Tag, digest);

    /// <summary>The canonical form: <c>registry/repository[:tag][@digest]</c>.</summary>
    public override string ToString() =>
        Name + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    private static ImageException Invalid(string reference, string problem) =>
        new(ImageErrorKind.InvalidInput, $"image reference '{reference}' {problem}");

    [GeneratedRegex("^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex("^[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex("^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$")]
    private static partial Regex RegistryPattern();
}
