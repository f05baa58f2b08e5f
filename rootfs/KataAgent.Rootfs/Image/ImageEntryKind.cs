namespace KataAgent.Rootfs.Image;

/// <summary>What an <see cref="ImageEntry"/> is.</summary>
public enum ImageEntryKind
{
    Directory,
    File,
    Symlink,
    CharacterDevice,
}
