namespace KataAgent.Image.Config;

/// <summary>One line of an image's /etc/group.</summary>
/// <param name="Name">The group name.</param>
/// <param name="Gid">The group id.</param>
/// <param name="Members">The user names listed as members.</param>
internal sealed record GroupEntry(string Name, uint Gid, IReadOnlyList<string> Members);
