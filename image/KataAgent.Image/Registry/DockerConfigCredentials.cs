using System.Text;
using System.Text.Json;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

/// <summary>
/// Registry credentials from docker's client config (<c>$DOCKER_CONFIG/config.json</c>, else
/// <c>~/.docker/config.json</c>): its <c>auths</c> entries, with base64 <c>auth</c>, or <c>username</c> and
/// <c>password</c>, or an <c>identitytoken</c>. Keys are matched by host as docker does: <c>https://quay.io</c>,
/// <c>quay.io/v1/</c> and <c>quay.io</c> are one registry, and <c>https://index.docker.io/v1/</c> is Docker Hub.
/// Credential helpers (<c>credHelpers</c> per registry, else <c>credsStore</c>) are asked by
/// <see cref="FindAsync"/> through an <see cref="IDockerCredentialHelper"/>, as docker asks them: a registry a helper
/// serves takes its credentials from the helper only.
/// </summary>
public sealed partial class DockerConfigCredentials
{
    private readonly Dictionary<string, RegistryCredentials> _byRegistry;

    private DockerConfigCredentials(string? path, Dictionary<string, RegistryCredentials> byRegistry)
    {
        Path = path;
        _byRegistry = byRegistry;
        _helpers = new Dictionary<string, string>(StringComparer.Ordinal);
    }

    /// <summary>The file read, or null when there was none.</summary>
    public string? Path { get; }

    /// <summary>The registries (normalised names) that have credentials.</summary>
    public IReadOnlyCollection<string> Registries => _byRegistry.Keys;

    /// <summary>Where docker's client keeps its config: <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>.</summary>
    public static string DefaultPath
    {
        get
        {
            var directory = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
            if (string.IsNullOrEmpty(directory))
                directory = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
            return System.IO.Path.Combine(directory, "config.json");
        }
    }

    /// <summary>
    /// Reads <paramref name="path"/> (<see cref="DefaultPath"/> when null). A missing file gives no credentials;
    /// a malformed one, or a credential helper name that is not one (a path, a dot name), is
    /// <see cref="ImageErrorKind.InvalidInput"/> naming the file. <paramref name="helpers"/> runs the credential
    /// helpers the file names, for <see cref="FindAsync"/> (null: a registry served by a helper is an error there).
    /// </summary>
    public static DockerConfigCredentials Load(string? path = null, IDockerCredentialHelper? helpers = null)
    {
        path ??= DefaultPath;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new DockerConfigCredentials(null, new Dictionary<string, RegistryCredentials>(StringComparer.Ordinal)) { _runner = helpers };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"docker config {path} cannot be read: {e.Message}", e);
        }

        DockerConfigFile file;
        try
        {
            file = JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.DockerConfigFile) ?? new DockerConfigFile();
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"docker config {path} is not valid JSON: {e.Message}", e);
        }

        var byRegistry = new Dictionary<string, RegistryCredentials>(StringComparer.Ordinal);
        foreach (var (key, entry) in file.Auths ?? [])
        {
            var credentials = ToCredentials(path, key, entry);
            if (credentials is not null)
                byRegistry[NormaliseKey(key)] = credentials;
        }
        var loaded = new DockerConfigCredentials(path, byRegistry) { _runner = helpers };
        loaded.ReadHelpers(path, file);
        return loaded;
    }

    /// <summary>
    /// The credentials for <paramref name="registry"/> (as in a reference: <c>docker.io</c>, <c>127.0.0.1:5000</c>),
    /// or null, from the <c>auths</c> entries only (a registry served by a credential helper needs
    /// <see cref="FindAsync"/>). Its signature fits <see cref="RegistryClientOptions.Credentials"/>.
    /// </summary>
    public RegistryCredentials? Find(string registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return _byRegistry.GetValueOrDefault(NormaliseKey(registry));
    }

    /// <summary>
    /// A config key or registry name as one registry name: scheme and path dropped, lowercased host, and Docker
    /// Hub's aliases (<c>index.docker.io</c>, <c>registry-1.docker.io</c>) folded into <c>docker.io</c>.
    /// </summary>
    internal static string NormaliseKey(string key)
    {
        var host = key.Trim();
        int scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            host = host[(scheme + 3)..];
        int slash = host.IndexOf('/');
        if (slash >= 0)
            host = host[..slash];
        host = host.ToLowerInvariant();
        return host is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? ImageReference.DockerHub : host;
    }

    private static RegistryCredentials? ToCredentials(string path, string key, DockerConfigAuth entry)
    {
        string? user = entry.Username;
        string? password = entry.Password;
        if (!string.IsNullOrEmpty(entry.Auth))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(entry.Auth));
            }
            catch (FormatException e)
            {
                throw new ImageException(ImageErrorKind.InvalidInput, $"docker config {path}: the auth of '{key}' is not base64", e);
            }
            int colon = decoded.IndexOf(':');
            if (colon < 0)
                throw new ImageException(ImageErrorKind.InvalidInput, $"docker config {path}: the auth of '{key}' is not base64 of user:password");
            user = decoded[..colon];
            password = decoded[(colon + 1)..];
        }
        if (!string.IsNullOrEmpty(entry.IdentityToken))
            return new RegistryCredentials(user ?? "", password ?? "", entry.IdentityToken);
        if (string.IsNullOrEmpty(user) && string.IsNullOrEmpty(password))
            return null;
        return new RegistryCredentials(user ?? "", password ?? "");
    }
}
