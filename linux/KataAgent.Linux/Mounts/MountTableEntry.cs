namespace KataAgent.Linux.Mounts;

/// <summary>One line of /proc/self/mountinfo, with the octal escapes undone.</summary>
/// <param name="MountPoint">Where it is mounted.</param>
/// <param name="Major">The device number's major part (0 for virtual filesystems).</param>
/// <param name="Minor">The device number's minor part.</param>
/// <param name="FilesystemType">The filesystem type (ext4, tmpfs, virtiofs …).</param>
/// <param name="Source">The mount source the kernel shows (a device path, a tag, "tmpfs").</param>
/// <param name="SuperOptions">The filesystem's own options (size=…, nr_inodes=… for a tmpfs).</param>
internal sealed record MountTableEntry(string MountPoint, int Major, int Minor, string FilesystemType, string Source, string SuperOptions);
