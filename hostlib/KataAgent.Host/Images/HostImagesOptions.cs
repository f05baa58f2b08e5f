using KataAgent.Image.Manifests;
using KataAgent.Image.Registry;

namespace KataAgent.Host.Images;

/// <summary>Where <see cref="HostImages"/> keeps images and how it reaches registries.</summary>
/// <example>
/// <code>
/// new HostImagesOptions
/// {
///     StoreDirectory = "/srv/images",
///     PlainHttpRegistries = new HashSet&lt;string&gt; { "127.0.0.1:5000" },
///     CaBundlePath = "/etc/kataagent/registry-ca.pem",
/// }
/// </code>
/// </example>
public sealed record HostImagesOptions
{
    /// <summary>The content store's directory; null for <see cref="HostImages.DefaultStoreDirectory()"/>.</summary>
    public string? StoreDirectory { get; init; }

    /// <summary>
    /// The docker config file whose <c>auths</c> entries and credential helpers give registry credentials; null for
    /// docker's own rule (<c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>). A missing file means
    /// anonymous pulls. Its credential helpers (<c>credHelpers</c>, <c>credsStore</c>) run as docker runs them
    /// (<see cref="DockerCredentialHelperRunner"/>), once per pull. <see cref="Credentials"/>, when set, is asked first.
    /// </summary>
    public string? DockerConfigPath { get; init; }

    /// <summary>Credentials for a registry name (<c>docker.io</c>, <c>127.0.0.1:5000</c>), asked before the docker config; null for none.</summary>
    public Func<string, RegistryCredentials?>? Credentials { get; init; }

    /// <summary>Registries (by name, as in references: <c>localhost:5000</c>) spoken to over plain HTTP. HTTPS everywhere else.</summary>
    public IReadOnlySet<string> PlainHttpRegistries { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>A PEM bundle of CAs to trust for registries instead of the system's store; null for the system's.</summary>
    public string? CaBundlePath { get; init; }

    /// <summary>The platform pulled and loaded when a call names none: this machine's (the VM runs the host's architecture).</summary>
    public Platform Platform { get; init; } = Platform.Current;

    /// <summary>How many layers download at once.</summary>
    public int ParallelLayers { get; init; } = new RegistryClientOptions().ParallelLayers;
}
