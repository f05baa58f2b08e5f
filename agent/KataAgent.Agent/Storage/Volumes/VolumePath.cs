using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Protocols.Guest;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Storage.Volumes;

/// <summary>
/// The rule for a guest path the host names for a volume (VolumeStatsRequest and ResizeVolumeRequest's
/// volume_guest_path, UpdateEphemeralMounts' mount points): absolute, normalised (no empty, "." or ".."
/// component), strictly below /run/kata-containers/ (where Kata's runtimes put direct-assigned volumes,
/// /run/kata-containers/sandbox/storage/…, and ephemeral storages), and reached without a symlink, so a
/// request can neither leave that tree by name nor through a link planted in it.
/// </summary>
public static class VolumePath
{
    /// <summary>The tree volume paths must lie in.</summary>
    public const string AllowedRoot = GuestLayout.RunDirectory + "/";

    /// <summary>Checks <paramref name="path"/> and returns it without a trailing slash; throws INVALID_ARGUMENT naming <paramref name="field"/>.</summary>
    public static string Validate(string path, string field, string allowedRoot = AllowedRoot)
    {
        if (path.Length == 0)
        {
            throw AgentException.InvalidArgument(field, "is empty");
        }
        if (!path.StartsWith('/') || path.Contains('\0'))
        {
            throw AgentException.InvalidArgument(field, $"'{path}' is not an absolute path");
        }
        string trimmed = path.Length > 1 ? path.TrimEnd('/') : path;
        if (trimmed.Split('/').Skip(1).Any(component => component is "" or "." or ".."))
        {
            throw AgentException.InvalidArgument(field, $"'{path}' is not normalised (an empty, '.' or '..' component)");
        }
        if (!trimmed.StartsWith(allowedRoot, StringComparison.Ordinal) || trimmed.Length <= allowedRoot.Length)
        {
            throw AgentException.InvalidArgument(field, $"'{path}' is not below {allowedRoot}");
        }
        // Every component after the root, the last included, must not be a symlink.
        int next = allowedRoot.Length;
        while (next <= trimmed.Length)
        {
            int slash = trimmed.IndexOf('/', next);
            string prefix = slash < 0 ? trimmed : trimmed[..slash];
            if (Libc.FileType(prefix) == Libc.S_IFLNK)
            {
                throw AgentException.InvalidArgument(field, $"'{path}' passes through the symlink {prefix}");
            }
            if (slash < 0)
            {
                break;
            }
            next = slash + 1;
        }
        return trimmed;
    }
}
