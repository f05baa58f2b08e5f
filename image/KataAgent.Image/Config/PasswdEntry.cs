namespace KataAgent.Image.Config;

/// <summary>One line of an image's /etc/passwd: the fields a process's identity needs.</summary>
/// <param name="Name">The user name.</param>
/// <param name="Uid">The user id.</param>
/// <param name="Gid">The primary group id.</param>
internal sealed record PasswdEntry(string Name, uint Uid, uint Gid);
