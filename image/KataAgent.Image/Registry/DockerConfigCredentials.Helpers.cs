using System.Text.Json;
using KataAgent.Image.References;

namespace KataAgent.Image.Registry;

public sealed partial class DockerConfigCredentials
{
    /// <summary>What a helper's identity-token answer carries as its user name (docker's <c>tokenUsername</c>).</summary>
    public const string IdentityTokenUsername = "<token>";

    /// <summary>Docker Hub's server URL as docker hands it to credential helpers.</summary>
    public const string DockerHubServerUrl = "https://index.docker.io/v1/";

    /// <summary>What every helper prints when it holds nothing for the server (docker-credential-helpers' message).</summary>
    private const string NotFoundMessage = "credentials not found in native keychain";

    /// <summary>A helper's answer is a few hundred bytes; its error message shown is cut at this.</summary>
    private const int MaxMessageChars = 512;

    private readonly Dictionary<string, string> _helpers;
    private string? _store;
    private IDockerCredentialHelper? _runner;

    /// <summary>The credential helper's name (<c>NAME</c> of <c>docker-credential-NAME</c>) that serves <paramref name="registry"/>: its <c>credHelpers</c> entry, else <c>credsStore</c>, else null.</summary>
    public string? CredentialHelperFor(string registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return _helpers.GetValueOrDefault(NormaliseKey(registry)) ?? _store;
    }

    /// <summary>
    /// The credentials for <paramref name="registry"/> as docker finds them: from its credential helper when one
    /// serves it (<c>docker-credential-NAME get</c> with the server URL on stdin, <see cref="DockerHubServerUrl"/>
    /// for Docker Hub, <c>host[:port]</c> otherwise; a <c>Username</c> of <see cref="IdentityTokenUsername"/> makes
    /// the <c>Secret</c> an identity token; "not found" is anonymous, as in docker), else from <c>auths</c>.
    /// </summary>
    /// <exception cref="ImageException">The helper could not be run (InvalidInput naming it and the file), failed
    /// (Unauthorized with its message), or answered something that is not its JSON (InvalidInput); a helper named
    /// without an <see cref="IDockerCredentialHelper"/> to run it (Unsupported).</exception>
    public async Task<RegistryCredentials?> FindAsync(string registry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        if (CredentialHelperFor(registry) is not { } helper)
        {
            return Find(registry);
        }
        string program = "docker-credential-" + helper;
        if (_runner is null)
        {
            throw new ImageException(ImageErrorKind.Unsupported, $"docker config {Path} names the credential helper {program} for {registry}, and this caller runs no credential helpers");
        }
        string name = NormaliseKey(registry);
        string serverUrl = name == ImageReference.DockerHub ? DockerHubServerUrl : name;
        var output = await _runner.GetAsync(program, serverUrl, cancellationToken).ConfigureAwait(false);
        string stdout = output.StandardOutput.Trim();
        if (output.ExitCode != 0)
        {
            if (stdout == NotFoundMessage)
            {
                return null;
            }
            string message = stdout.Length > 0 ? stdout : output.StandardError.Trim();
            if (message.Length > MaxMessageChars)
            {
                message = message[..MaxMessageChars] + "…";
            }
            throw new ImageException(ImageErrorKind.Unauthorized, $"credential helper {program} (docker config {Path}) failed for {serverUrl} with exit code {output.ExitCode}: {message}");
        }
        return ParseHelperAnswer(program, serverUrl, stdout);
    }

    /// <summary>Reads <c>credsStore</c> and <c>credHelpers</c>, checking each name is a program name and nothing else.</summary>
    private void ReadHelpers(string path, DockerConfigFile file)
    {
        if (file.CredsStore is { Length: > 0 } store)
        {
            _store = CheckHelperName(path, "credsStore", store);
        }
        foreach (var (key, helper) in file.CredHelpers ?? [])
        {
            if (!string.IsNullOrEmpty(helper))
            {
                _helpers[NormaliseKey(key)] = CheckHelperName(path, $"credHelpers '{key}'", helper);
            }
        }
    }

    /// <summary>A helper name becomes part of a program looked up in PATH: letters, digits, <c>.</c>, <c>_</c>, <c>-</c> only.</summary>
    private static string CheckHelperName(string path, string field, string name)
    {
        if (name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-') || name.StartsWith('.'))
        {
            throw new ImageException(ImageErrorKind.InvalidInput, $"docker config {path}: {field} names '{name}', which is not a credential helper name (letters, digits, '.', '_', '-')");
        }
        return name;
    }

    /// <summary>
    /// The helper's JSON: <c>{"ServerURL", "Username", "Secret"}</c>, names matched without case as Go's decoder
    /// does. The secret never goes into a message.
    /// </summary>
    private static RegistryCredentials? ParseHelperAnswer(string program, string serverUrl, string stdout)
    {
        string? username = null;
        string? secret = null;
        try
        {
            using var document = JsonDocument.Parse(stdout);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ImageException(ImageErrorKind.InvalidInput, $"credential helper {program} answered for {serverUrl} with JSON that is not an object");
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                bool isUser = string.Equals(property.Name, "Username", StringComparison.OrdinalIgnoreCase);
                bool isSecret = string.Equals(property.Name, "Secret", StringComparison.OrdinalIgnoreCase);
                if (!isUser && !isSecret)
                {
                    continue;
                }
                if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    throw new ImageException(ImageErrorKind.InvalidInput, $"credential helper {program} answered for {serverUrl} with a {property.Name} that is not a string");
                }
                if (isUser)
                {
                    username = property.Value.GetString();
                }
                else
                {
                    secret = property.Value.GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Not the exception's text: it may quote the answer, which holds the secret.
            throw new ImageException(ImageErrorKind.InvalidInput, $"credential helper {program} answered for {serverUrl} with something that is not JSON");
        }
        if (username == IdentityTokenUsername)
        {
            return string.IsNullOrEmpty(secret) ? null : new RegistryCredentials("", "", secret);
        }
        if (string.IsNullOrEmpty(username) && string.IsNullOrEmpty(secret))
        {
            return null;
        }
        return new RegistryCredentials(username ?? "", secret ?? "");
    }
}
