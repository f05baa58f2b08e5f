namespace KataAgent.Image.Config;

/// <summary>The process an image's config gives a container (reference vm-io-imagepull.md §3.5), ready for an OCI spec.</summary>
/// <param name="Args">Entrypoint ++ Cmd, after the caller's overrides.</param>
/// <param name="Env">The image's environment (then the caller's, overriding by name).</param>
/// <param name="Cwd">The working directory (<c>/</c> when the image names none).</param>
/// <param name="Uid">The user id, resolved in the image's /etc/passwd when the image names a user.</param>
/// <param name="Gid">The primary group id.</param>
/// <param name="AdditionalGids">The user's supplementary groups from the image's /etc/group.</param>
public sealed record ImageProcess(
    IReadOnlyList<string> Args,
    IReadOnlyList<string> Env,
    string Cwd,
    uint Uid,
    uint Gid,
    IReadOnlyList<uint> AdditionalGids);
