namespace KataAgent.Protocols.Guest.ImagePull;

/// <summary>An image's process in a <see cref="GuestPullResult"/>.</summary>
/// <param name="Args">Entrypoint ++ Cmd after the caller's overrides.</param>
/// <param name="Env">The environment.</param>
/// <param name="Cwd">The working directory.</param>
/// <param name="Uid">The user id.</param>
/// <param name="Gid">The primary group id.</param>
/// <param name="AdditionalGids">Supplementary groups.</param>
public sealed record GuestPullProcess(
    IReadOnlyList<string> Args,
    IReadOnlyList<string> Env,
    string Cwd,
    uint Uid,
    uint Gid,
    IReadOnlyList<uint> AdditionalGids);
