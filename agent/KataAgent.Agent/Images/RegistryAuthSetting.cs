using KataAgent.Agent.Errors;

namespace KataAgent.Agent.Images;

/// <summary>
/// Kata's <c>agent.image_registry_auth</c> (image-rs' <c>authenticated_registry_credentials_uri</c>): a docker
/// config file with <c>auths</c> for the registries guest pull reaches. Kata takes <c>file:///PATH</c> (a file in
/// the guest image or put there by init-data) and <c>kbs:///…</c> (a resource the Confidential Data Hub fetches from
/// a Key Broker Service after attestation). We take <c>file:///PATH</c> and a bare absolute path; <c>kbs://</c> needs
/// attestation and a KBS client, which this agent does not have, so a pull that would use it fails saying so.
/// </summary>
internal static class RegistryAuthSetting
{
    /// <summary>The option's name, for messages.</summary>
    public const string Option = "agent.image_registry_auth";

    private const string FileScheme = "file://";

    /// <summary>The guest path <paramref name="setting"/> names.</summary>
    /// <exception cref="AgentException">FAILED_PRECONDITION naming the option: a form not supported, or not a clean absolute path.</exception>
    public static string FileOf(string setting)
    {
        string path = setting.StartsWith(FileScheme, StringComparison.OrdinalIgnoreCase) ? setting[FileScheme.Length..] : setting;
        if (setting.StartsWith("kbs:", StringComparison.OrdinalIgnoreCase))
        {
            throw AgentException.FailedPrecondition(Option, $"'{setting}' is a Key Broker Service resource, which needs attestation (Confidential Data Hub) that this agent does not do; use file:///PATH");
        }
        // file://HOST/PATH names another machine's file: only the empty host (file:///PATH) is ours.
        if (!path.StartsWith('/') || path.Contains('\0') || Path.GetFullPath(path) != path || path.EndsWith('/'))
        {
            throw AgentException.FailedPrecondition(Option, $"'{setting}' is not file:///PATH with a normalised absolute guest path");
        }
        return path;
    }
}
