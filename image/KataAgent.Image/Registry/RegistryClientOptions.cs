namespace KataAgent.Image.Registry;

/// <summary>How a <see cref="RegistryClient"/> reaches registries.</summary>
public sealed record RegistryClientOptions
{
    /// <summary>Credentials for a registry name (as in the reference: <c>docker.io</c>, <c>127.0.0.1:5000</c>), or null.</summary>
    public Func<string, RegistryCredentials?>? Credentials { get; init; }

    /// <summary>Registries (by name) spoken to over plain HTTP. HTTPS everywhere else.</summary>
    public IReadOnlySet<string> PlainHttpRegistries { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>A PEM bundle of CAs to trust instead of the system store, or null for the system store.</summary>
    public string? CaBundlePath { get; init; }

    /// <summary>Attempts per request on connection errors, 429 and 5xx, with exponential backoff.</summary>
    public int Attempts { get; init; } = 4;

    /// <summary>The first backoff; it doubles per attempt.</summary>
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How many layers download at once.</summary>
    public int ParallelLayers { get; init; } = 3;

    /// <summary>The User-Agent header.</summary>
    public string UserAgent { get; init; } = "kataagent/0.1";
}
