using System.Globalization;
using KataAgent.Agent.Errors;
using KataAgent.Agent.Interop;
using KataAgent.Linux.Mounts;
using KataAgent.Linux.Interop;

namespace KataAgent.Agent.Storage.Volumes;

/// <summary>
/// ResizeVolume: grows the ext4 filesystem mounted on a volume's guest path to the requested size
/// while it stays mounted, with the EXT4_IOC_RESIZE_FS ioctl on the mount point (what resize2fs does
/// for a mounted filesystem), so the guest needs no e2fsprogs. Kata's own agent answers UNIMPLEMENTED
/// here. The runtime grows the disk first; the filesystem can only grow into a disk that is already
/// as large. ext4 cannot shrink while mounted, so a smaller size is refused, and the same size is a
/// no-op.
/// </summary>
public static unsafe class Ext4OnlineResizer
{
    private const int EROFS = 30;

    /// <summary>Grows the filesystem on <paramref name="guestPath"/> to <paramref name="sizeBytes"/> (rounded down to whole blocks); returns the new block count.</summary>
    public static ulong Resize(string guestPath, ulong sizeBytes, string sysfsRoot = "/sys", string mountinfoPath = "/proc/self/mountinfo", string allowedRoot = VolumePath.AllowedRoot)
    {
        string path = VolumePath.Validate(guestPath, "volume_guest_path", allowedRoot);
        if (sizeBytes == 0)
        {
            throw AgentException.InvalidArgument("size", "is 0");
        }
        var mount = MountTable.FindMountPoint(MountTable.Read(mountinfoPath), path)
            ?? throw AgentException.FailedPrecondition("volume_guest_path", $"nothing is mounted on {path}; ResizeVolume grows a mounted volume");
        if (mount.FilesystemType != "ext4")
        {
            throw AgentException.FailedPrecondition("volume_guest_path", $"{path} holds {mount.FilesystemType}; only ext4 is grown online");
        }
        ulong deviceBytes = DeviceBytes(sysfsRoot, mount);
        if (sizeBytes > deviceBytes)
        {
            throw AgentException.FailedPrecondition("size", $"{sizeBytes} bytes is more than the {deviceBytes} bytes of {mount.Source} ({mount.Major}:{mount.Minor}); grow the disk first");
        }
        AgentLibc.StatFs stat;
        Libc.Check(AgentLibc.Statfs(path, &stat), $"statfs {path}");
        // ext4's statfs reports its own block size in f_bsize, and f_blocks without the metadata
        // overhead: a count below f_blocks is certainly a shrink.
        ulong blockSize = (ulong)stat.BlockSize;
        ulong blocks = sizeBytes / blockSize;
        if (blocks < stat.Blocks)
        {
            throw AgentException.InvalidArgument("size", $"{sizeBytes} bytes is smaller than the filesystem on {path} ({stat.Blocks * blockSize} bytes of data blocks); ext4 cannot shrink while mounted");
        }
        int fd = Libc.Check(Libc.Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC), $"open {path}");
        try
        {
            if (Libc.Ioctl(fd, AgentLibc.EXT4_IOC_RESIZE_FS, &blocks) != 0)
            {
                var error = LinuxException.FromLastError($"ioctl(EXT4_IOC_RESIZE_FS, {blocks} blocks of {blockSize}) on {path}");
                throw error.Errno switch
                {
                    Errno.EINVAL => AgentException.InvalidArgument("size", $"{error.Message}: the size is smaller than the filesystem, or the filesystem cannot grow to it (see the guest's kernel log)"),
                    EROFS => AgentException.FailedPrecondition("volume_guest_path", $"{path} is mounted read-only ({error.Message})"),
                    Errno.EBUSY => AgentException.FailedPrecondition("volume_guest_path", $"another resize of {path} is running ({error.Message})"),
                    Errno.EOPNOTSUPP => AgentException.FailedPrecondition("volume_guest_path", $"the filesystem on {path} cannot be resized online ({error.Message})"),
                    _ => error,
                };
            }
        }
        finally
        {
            Libc.Close(fd);
        }
        return blocks;
    }

    /// <summary>The size of the mount's block device from sysfs (/sys/dev/block/MAJ:MIN/size, in 512-byte sectors).</summary>
    private static ulong DeviceBytes(string sysfsRoot, MountTableEntry mount)
    {
        string file = Path.Combine(sysfsRoot, "dev", "block", $"{mount.Major}:{mount.Minor}", "size");
        string text;
        try
        {
            text = File.ReadAllText(file).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AgentException.FailedPrecondition("volume_guest_path", $"{mount.MountPoint} is not on a block device ({file}: {e.Message})");
        }
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong sectors)
            ? sectors * 512
            : throw new InvalidDataException($"{file}: '{text}' is not a sector count");
    }
}
