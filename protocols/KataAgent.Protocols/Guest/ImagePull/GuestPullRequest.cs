namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>
/// What the agent sends the guest pull helper (<c>kata-image-pull</c>) on its stdin: one JSON document, so the
/// credentials never appear on a command line (/proc/PID/cmdline is readable by every guest process).
/// </summary>
public sealed record GuestPullRequest
{
    /// <summary>The image reference, as docker takes it.</summary>
    public required string Image { get; init; }

    /// <summary><c>os/arch[/variant]</c>, or null for the guest's own.</summary>
    public string? Platform { get; init; }

    /// <summary>Credentials for the image's registry, or null for anonymous access.</summary>
    public GuestPullCredentials? Credentials { get; init; }

    /// <summary>
    /// A docker config file in the guest (<c>auths</c> entries) to take the registry's credentials from when
    /// <see cref="Credentials"/> is null: the agent's <c>agent.image_registry_auth=file:///PATH</c>, as Kata's agent
    /// hands it to its image puller. Null for none.
    /// </summary>
    public string? RegistryAuthFile { get; init; }

    /// <summary>PEM CA certificates to trust instead of the guest's bundle, or null.</summary>
    public string? CaPem { get; init; }

    /// <summary>Registries (by name, <c>host[:port]</c>) spoken to over plain HTTP.</summary>
    public IReadOnlyList<string> PlainHttpRegistries { get; init; } = [];

    /// <summary>The content store's directory (guest storage: tmpfs or the scratch disk).</summary>
    public required string StoreDirectory { get; init; }

    /// <summary>The directory to unpack the rootfs into; it must be empty or absent.</summary>
    public required string Rootfs { get; init; }

    /// <summary>The caller's entrypoint (replaces the image's Entrypoint and drops its Cmd), or null.</summary>
    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>The caller's arguments (replace the image's Cmd), or null.</summary>
    public IReadOnlyList<string>? Args { get; init; }

    /// <summary>Environment entries (<c>NAME=value</c>) added after the image's, overriding by name.</summary>
    public IReadOnlyList<string>? Env { get; init; }

    /// <summary>The caller's user (<c>user[:group]</c>, names or ids), or null for the image's.</summary>
    public string? User { get; init; }
}
