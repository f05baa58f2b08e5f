namespace KataAgent.Rootfs.Image;

/// <summary>
/// One entry of the image tree. A file's content is either a host file (<see cref="HostPath"/>, read when the
/// archive is written) or bytes held in memory (<see cref="Content"/>).
/// </summary>
/// <param name="Path">Absolute path inside the image, normalized (<c>/lib/x86_64-linux-gnu/libc.so.6</c>).</param>
/// <param name="Kind">Directory, file, symlink or character device.</param>
/// <param name="Permissions">The permission bits (e.g. <c>0755</c> as 0x1ED).</param>
public sealed record ImageEntry(string Path, ImageEntryKind Kind, int Permissions)
{
    /// <summary>For a file: the host file to copy.</summary>
    public string? HostPath { get; init; }

    /// <summary>For a file: its content, when it is not a host file.</summary>
    public byte[]? Content { get; init; }

    /// <summary>For a symlink: its target.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>For a device node: major number.</summary>
    public int DeviceMajor { get; init; }

    /// <summary>For a device node: minor number.</summary>
    public int DeviceMinor { get; init; }

    /// <summary>The size of a file's content in bytes (0 for anything else).</summary>
    public long Size => Kind != ImageEntryKind.File ? 0 : Content?.LongLength ?? new FileInfo(HostPath!).Length;
}
