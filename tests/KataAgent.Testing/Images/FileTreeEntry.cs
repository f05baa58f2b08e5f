namespace KataAgent.Testing.Images;

/// <summary>What a tree comparison looks at for one path (never followed).</summary>
/// <param name="Type">file, dir, symlink, char, block, fifo, socket.</param>
/// <param name="Mode">The permission bits with setuid, setgid and sticky (octal when printed).</param>
/// <param name="Uid">The owner.</param>
/// <param name="Gid">The group.</param>
/// <param name="Size">A regular file's size (0 for the rest).</param>
/// <param name="ContentSha256">A regular file's content hash, or a symlink's target, or a device's major:minor.</param>
/// <param name="Xattrs">name=hex pairs, sorted.</param>
/// <param name="MtimeSeconds">The mtime's seconds.</param>
/// <param name="HardLinks">For regular files: the other paths of the tree sharing its inode, sorted.</param>
public sealed record FileTreeEntry(
    string Type,
    int Mode,
    uint Uid,
    uint Gid,
    long Size,
    string ContentSha256,
    string Xattrs,
    long MtimeSeconds,
    string HardLinks)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Type} {Convert.ToString(Mode, 8)} {Uid}:{Gid} size={Size} {ContentSha256} xattrs=[{Xattrs}] mtime={MtimeSeconds} links=[{HardLinks}]";
}
